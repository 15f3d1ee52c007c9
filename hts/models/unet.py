"""The paper's segmentation network: a U-Net with a ResNet34 encoder (HRNet-W48 selectable).

Built with segmentation-models-pytorch, ``encoder_weights=None`` (no downloads: our weights
are trained from scratch on our own data). Input: one channel, the paper's preprocessing
(min-max to 8 bit, half resolution, padded to 32) scaled to [0, 1]. Output: two-class
logits; softmax channel 1 is the spheroid probability.

A weight file is one ``torch.save`` dict: ``{"config": ModelConfig fields, "state_dict":
fp16 tensors, "model_id": str, ...}``, so a file is self-describing.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ModelConfig", "build_model", "load_weights", "save_weights"]


@dataclass(frozen=True)
class ModelConfig:
    """Which network. ``encoder`` is an smp encoder name (``resnet34``, ``tu-hrnet_w48``)."""

    arch: str = "unet"
    encoder: str = "resnet34"
    in_channels: int = 1
    classes: int = 2

    @classmethod
    def hrnet(cls) -> ModelConfig:
        """The paper's alternative: HRNet-W48 (timm) as the encoder."""
        return cls(encoder="tu-hrnet_w48")


def build_model(config: ModelConfig | None = None) -> Any:
    """A freshly initialised network (``torch.nn.Module``) for ``config``."""
    import segmentation_models_pytorch as smp

    config = config or ModelConfig()
    archs = {"unet": smp.Unet, "unetplusplus": smp.UnetPlusPlus, "fpn": smp.FPN}
    if config.arch not in archs:
        raise ValueError(f"unknown architecture {config.arch!r}; choose from {sorted(archs)}")
    return archs[config.arch](
        encoder_name=config.encoder,
        encoder_weights=None,
        in_channels=config.in_channels,
        classes=config.classes,
    )


def save_weights(
    model: Any, path: Path | str, *, config: ModelConfig, model_id: str, **info: Any
) -> Path:
    """Save ``model``'s weights as fp16 with its config and id in one file."""
    import torch

    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(config), "state_dict": state, "model_id": model_id, **info}, path)
    return path


def load_weights(path: Path | str) -> tuple[Any, ModelConfig, dict[str, Any]]:
    """Load a weight file: ``(fp32 model in eval mode, its config, the file's other fields)``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model weight file here")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a page long and suggests weights_only=False: one line instead
        lines = str(exc).splitlines()
        refused = next((ln.strip() for ln in lines if "GLOBAL" in ln), None)
        if refused is None:
            raise ValueError(
                f"{path}: not a torch weight file ({lines[0] if lines else exc})"
            ) from exc
        raise ValueError(f"{path}: refused: not a plain weight file ({refused})") from None
    config = ModelConfig(**data.pop("config"))
    model = build_model(config)
    state = {
        k: (v.float() if v.is_floating_point() else v) for k, v in data.pop("state_dict").items()
    }
    model.load_state_dict(state)
    model.eval()
    return model, config, data
