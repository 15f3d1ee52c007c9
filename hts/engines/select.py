"""Pick the fastest engine this process can run: TensorRT on a GPU, else the CPU engine and
precision measured fastest on this CPU model (`hts.engines.autotune`)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path

from hts.engines.settings import auto_engine_timed

__all__ = ["auto_engine_name", "static_engine_name"]

logger = logging.getLogger(__name__)


def auto_engine_name(
    weights: Path | str | None = None, *, cache_dir: Path | str | None = None
) -> str:
    """The registered engine to use here.

    Parameters
    ----------
    weights : path, optional
        The weight file to run. With it, on a CPU, the engine and precision timed fastest
        for it on this CPU model (`hts.engines.autotune.measured_engine_name`: timed once,
        then read from the cache), e.g. ``"openvino-int8"``; without it, or with
        ``$HTS_AUTO_ENGINE=static``, or where the timing fails, `static_engine_name`.
    cache_dir : path, optional
        Where the timed choice is recorded (`hts.engines.cache.resolve_cache_dir`).

    Returns
    -------
    str
    """
    name = static_engine_name()
    if name != "tensorrt" and weights is not None:
        from hts.engines.autotune import measured_engine_name

        if auto_engine_timed():
            name = measured_engine_name(weights, cache_dir=cache_dir) or name
    logger.debug("automatic engine choice: %s", name)
    return name


def static_engine_name() -> str:
    """The fixed preference without timing.

    Returns
    -------
    str
        ``"tensorrt"`` when ``tensorrt`` imports and torch sees a CUDA GPU, else
        ``"openvino"`` when ``openvino`` imports (bf16 on CPUs that have it), else
        ``"onnxruntime"`` when ``onnxruntime`` imports, else ``"torch"``.
    """
    if _importable("tensorrt") and _cuda_available():
        return "tensorrt"
    if _importable("openvino"):
        return "openvino"
    if _importable("onnxruntime"):
        return "onnxruntime"
    return "torch"


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
