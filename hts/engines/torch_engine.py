"""PyTorch engine: CPU with bf16 autocast and channels-last (AMX/AVX-512 units), or CUDA."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["TorchEngine"]


class TorchEngine:
    """The network in PyTorch. ``precision``: "bf16" (default on CPU), "fp32", or "fp16" (CUDA)."""

    def __init__(self, weights: Path, *, device: str = "cpu", precision: str | None = None) -> None:
        import torch

        from hts.models.unet import load_weights

        model, self.config, info = load_weights(weights)
        self.model_id = str(info.get("model_id", Path(weights).stem))
        self.device = torch.device(device)
        self.precision = precision or ("bf16" if self.device.type == "cpu" else "fp16")
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()

    @property
    def name(self) -> str:
        return f"torch-{self.device.type}-{self.precision}"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch)[:, None].astype(np.float32) / 255.0)
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None
            ),
        ):
            logits = self.model(x)
        return logits.float().softmax(dim=1)[:, 1].cpu().numpy()
