"""One fixed-seed network through every available engine: the same probabilities and masks.

The reference is torch fp32 on the CPU. Tolerances (max absolute difference of the
spheroid probability, and Jaccard distance JCD of the >= 0.5 masks, per image):

=====================  ========  ======
engine                 max |dp|  JCD
=====================  ========  ======
onnxruntime (fp32)     1e-4      0.005
onnxruntime, fp16 ONNX 0.01      0.005
torch bf16 (CPU)       0.05      0.005
openvino (bf16 where   0.05      0.005
the CPU has it)
torch fp16 (CUDA)      0.05      0.005
tensorrt fp16          0.05      0.005
=====================  ========  ======
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from hts.engines.base import Engine
from hts.measure.metrics import jaccard_distance

torch = pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

MAX_JCD = 0.005
CUDA = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
OPENVINO = [
    pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="needs OpenVINO")
]
TENSORRT = [
    pytest.mark.tensorrt,
    pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="needs TensorRT"),
    pytest.mark.timeout(1200),  # a first engine build takes minutes
]


@pytest.fixture(scope="module")
def reference(weights: Path, disk_batch: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    from hts.engines.torch_engine import TorchEngine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return TorchEngine(weights, precision="fp32").predict(disk_batch[0])
    finally:
        torch.set_num_threads(threads)


def test_reference_masks_are_decisive_and_right(
    reference: np.ndarray, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    """Without this, mask agreement between engines would say little."""
    undecided = np.abs(reference - 0.5) < 0.1
    assert undecided.mean() < 0.02
    for probability, truth in zip(reference, disk_batch[1], strict=True):
        assert jaccard_distance(probability >= 0.5, truth) < 0.1


def _engine(kind: str, weights: Path, cache_dir: Path, half_onnx_file: Path) -> Engine:
    """A fresh engine of ``kind`` for the test weights."""
    if kind == "onnxruntime":
        from hts.engines.onnxruntime_engine import OnnxRuntimeEngine

        return OnnxRuntimeEngine(weights, threads=1, cache_dir=cache_dir)
    if kind == "onnxruntime-fp16-onnx":
        from hts.engines.onnxruntime_engine import OnnxRuntimeEngine

        return OnnxRuntimeEngine(half_onnx_file, providers=["CPUExecutionProvider"], threads=1)
    if kind == "openvino":
        from hts.engines.openvino_engine import OpenVinoEngine

        return OpenVinoEngine(weights, threads=1, cache_dir=cache_dir)
    if kind == "torch-bf16":
        from hts.engines.torch_engine import TorchEngine

        return TorchEngine(weights, precision="bf16")
    if kind == "torch-cuda-fp16":
        from hts.engines.torch_engine import TorchEngine

        return TorchEngine(weights, device="cuda", precision="fp16")
    from hts.engines.tensorrt_engine import ShapeProfile, TensorRTEngine

    profile = ShapeProfile(min_yx=(64, 64), opt_yx=(96, 128), max_yx=(128, 128), opt_batch=2)
    return TensorRTEngine(weights, max_batch=4, profile=profile, cache_dir=cache_dir)


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize(
    ("kind", "max_abs"),
    [
        pytest.param("onnxruntime", 1e-4, id="onnxruntime"),
        pytest.param("onnxruntime-fp16-onnx", 0.01, id="onnxruntime-fp16-onnx"),
        pytest.param("torch-bf16", 0.05, id="torch-bf16"),
        pytest.param("openvino", 0.05, id="openvino", marks=OPENVINO),
        pytest.param("torch-cuda-fp16", 0.05, id="torch-cuda-fp16", marks=CUDA),
        pytest.param("tensorrt", 0.05, id="tensorrt", marks=CUDA + TENSORRT),
    ],
)
def test_engine_agrees_with_torch_fp32(
    kind: str,
    max_abs: float,
    reference: np.ndarray,
    weights: Path,
    cache_dir: Path,
    half_onnx_file: Path,
    disk_batch: tuple[np.ndarray, np.ndarray],
) -> None:
    """Probabilities within ``max_abs`` of torch fp32; masks within JCD 0.005 (module table)."""
    engine = _engine(kind, weights, cache_dir, half_onnx_file)
    probability = engine.predict(disk_batch[0])
    assert probability.shape == reference.shape and probability.dtype == np.float32
    difference = float(np.abs(probability - reference).max())
    jcds = [
        jaccard_distance(p >= 0.5, r >= 0.5) for p, r in zip(probability, reference, strict=True)
    ]
    print(f"{engine.name}: max |dp| {difference:.3g}, JCD {[round(j, 5) for j in jcds]}")
    assert difference < max_abs
    assert max(jcds) <= MAX_JCD
