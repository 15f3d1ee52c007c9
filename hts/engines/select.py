"""Pick the fastest engine this process can run: TensorRT on a GPU, else OpenVINO or ONNX Runtime."""

from __future__ import annotations

import importlib
import importlib.util
import logging

__all__ = ["auto_engine_name"]

logger = logging.getLogger(__name__)


def auto_engine_name() -> str:
    """The registered engine to use here.

    Returns
    -------
    str
        ``"tensorrt"`` when ``tensorrt`` imports and torch sees a CUDA GPU, else
        ``"openvino"`` when ``openvino`` imports (bf16 on CPUs that have it: the fastest
        CPU engine measured, see docs/benchmarks.md), else ``"onnxruntime"`` when
        ``onnxruntime`` imports, else ``"torch"``.
    """
    if _importable("tensorrt") and _cuda_available():
        name = "tensorrt"
    elif _importable("openvino"):
        name = "openvino"
    elif _importable("onnxruntime"):
        name = "onnxruntime"
    else:
        name = "torch"
    logger.debug("automatic engine choice: %s", name)
    return name


def _importable(module: str) -> bool:
    """Whether ``module`` is installed and imports (a broken GPU library fails on import)."""
    if importlib.util.find_spec(module) is None:
        return False
    try:
        importlib.import_module(module)
    except (ImportError, OSError) as error:
        logger.warning("%s is installed but does not import: %s", module, error)
        return False
    return True


def _cuda_available() -> bool:
    if not _importable("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())
