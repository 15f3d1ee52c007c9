"""GPU inference check: the shipped U-Net on CUDA vs torch fp32 on the CPU, in one process.

Usage (on a GPU node; needs torch with CUDA and segmentation-models-pytorch only)::

    python benchmarks/gpu.py [--model unet-r34-v6] [--images 48] [--repeats 5] [--json F]

1. What the node offers: GPU, torch, TensorRT (importable or not), ONNX Runtime providers.
2. Parity: the same preprocessed synthetic images (randomised set 31, never used for
   training) through the torch engine on CUDA in fp16, bf16 and fp32; per-image Jaccard
   distance of the 0.5 masks to CPU fp32 masks (mean and max), largest probability gap.
3. Throughput: bare engine seconds per image (host arrays in, probabilities back to the
   host) at batch 1, 8 and 32, median of ``--repeats``.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from pathlib import Path
from typing import Protocol

import numpy as np


def _inputs(n: int) -> np.ndarray:
    from hts.segment.preprocess import preprocess
    from hts.synth.training import training_sample

    return np.stack([preprocess(training_sample(31, i).image) for i in range(n)])


class _Engine(Protocol):
    def predict(self, batch: np.ndarray) -> np.ndarray: ...


def _predict_all(engine: _Engine, inputs: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate(
        [engine.predict(inputs[i : i + batch]) for i in range(0, len(inputs), batch)]
    )


def main() -> int:
    import torch

    from hts.engines.torch_engine import TorchEngine
    from hts.measure.metrics import jaccard_distance
    from hts.models.paths import DEFAULT_MODEL, model_path

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--images", type=int, default=48)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", type=Path)
    p.add_argument("--device", default="cuda", help="cuda, or cpu to check the script itself")
    args = p.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark needs a GPU")
    weights = model_path(args.model)
    node = {
        "gpu": torch.cuda.get_device_name(0) if args.device != "cpu" else "none (cpu)",
        "torch": torch.__version__,
        "tensorrt": importlib.util.find_spec("tensorrt") is not None,
    }
    try:
        import onnxruntime

        node["onnxruntime_providers"] = ",".join(onnxruntime.get_available_providers())
    except ImportError:
        node["onnxruntime_providers"] = "not installed"
    print("| node | |\n|---|---|")
    for k, v in node.items():
        print(f"| {k} | {v} |")

    inputs = _inputs(args.images)
    t0 = time.perf_counter()
    reference = _predict_all(TorchEngine(weights, device="cpu", precision="fp32"), inputs, 8)
    cpu_s = (time.perf_counter() - t0) / len(inputs)
    ref_masks = reference >= 0.5
    results: dict[str, dict[str, float]] = {}
    print(f"\nCPU fp32 reference: {cpu_s:.3f} s/image ({torch.get_num_threads()} threads)")
    print("\n| engine | JCD vs CPU fp32 mean | max | max abs dp | s/image b1 | b8 | b32 |")
    print("|---|---|---|---|---|---|---|")
    precisions = ("bf16", "fp32") if args.device == "cpu" else ("fp16", "bf16", "fp32")
    for precision in precisions:
        engine = TorchEngine(weights, device=args.device, precision=precision)
        probs = _predict_all(engine, inputs, 8)
        jcd = [jaccard_distance(a, b) for a, b in zip(probs >= 0.5, ref_masks, strict=True)]
        row = {
            "jcd_mean": float(np.mean(jcd)),
            "jcd_max": float(np.max(jcd)),
            "max_abs_dp": float(np.max(np.abs(probs - reference))),
        }
        for batch in (1, 8, 32):
            _predict_all(engine, inputs[:batch], batch)  # warm-up at this shape
            runs = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                _predict_all(engine, inputs, batch)
                runs.append((time.perf_counter() - t0) / len(inputs))
            row[f"s_per_image_b{batch}"] = statistics.median(runs)
        results[engine.name] = row
        print(
            f"| {engine.name} | {row['jcd_mean']:.4f} | {row['jcd_max']:.4f} | "
            f"{row['max_abs_dp']:.3f} | {row['s_per_image_b1']:.4f} | "
            f"{row['s_per_image_b8']:.4f} | {row['s_per_image_b32']:.4f} |"
        )
        del engine
        if args.device != "cpu":
            torch.cuda.empty_cache()
    if args.json:
        args.json.write_text(
            json.dumps({"node": node, "cpu_fp32_s": cpu_s, "engines": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
