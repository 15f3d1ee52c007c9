"""ONNX Runtime engine: the cached ONNX export of a weight file, no torch needed to run it.

On a CPU node this is the whole inference stack. Where an onnxruntime-gpu build finds CUDA
(and TensorRT) it uses them, falling back to the CPU.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hts.engines.base import onnx_input
from hts.engines.cache import resolve_cache_dir
from hts.engines.onnx_export import INPUT_NAME, OUTPUT_NAME, cached_onnx
from hts.engines.settings import engine_threads

__all__ = ["OnnxRuntimeEngine", "default_providers"]

logger = logging.getLogger(__name__)

#: Short names of execution providers, for ``OnnxRuntimeEngine.name``.
_SHORT_NAMES = {
    "CPUExecutionProvider": "cpu",
    "CUDAExecutionProvider": "cuda",
    "TensorrtExecutionProvider": "tensorrt",
}

Provider = str | tuple[str, dict[str, Any]]


class OnnxRuntimeEngine:
    """The network in an ONNX Runtime session.

    Parameters
    ----------
    weights : path
        A ``.pt`` weight file (exported to ONNX once, see :func:`cached_onnx`) or an
        ``.onnx`` file of :func:`export_onnx`.
    providers : sequence, optional
        Execution providers in order of preference, as ``onnxruntime.InferenceSession``
        takes them; default: :func:`default_providers`.
    threads : int, optional
        Intra-op threads; default: `hts.engines.settings.engine_threads` (``$HTS_ENGINE_THREADS``,
        which hts's local clusters set per worker process, else ``$OMP_NUM_THREADS``), else
        ONNX Runtime's (one per physical core).
    batch_size : int, optional
        Run at most this many images per session call; default: the whole batch.
    cache_dir : path, optional
        Where ONNX exports (and ONNX Runtime's TensorRT engines) are cached.
    """

    def __init__(
        self,
        weights: Path | str,
        *,
        providers: Sequence[Provider] | None = None,
        threads: int | None = None,
        batch_size: int | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        import onnxruntime as ort

        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.onnx_path = cached_onnx(weights, cache_dir=cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = engine_threads(threads)  # ORT's own pool ignores the environment
        if threads is not None:
            options.intra_op_num_threads = threads
        chosen = (
            list(providers) if providers is not None else default_providers(cache_dir=cache_dir)
        )
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=chosen)
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.model_id: str = metadata.get("model_id", Path(weights).stem)
        self.batch_size = batch_size
        logger.info("onnxruntime session for %s on %s", self.model_id, self.session.get_providers())

    @property
    def name(self) -> str:
        provider = self.session.get_providers()[0]
        return f"onnxruntime-{_SHORT_NAMES.get(provider, provider.removesuffix('ExecutionProvider').lower())}"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Spheroid probabilities of a batch; see `hts.engines.base.Engine.predict`."""
        x = onnx_input(batch)
        if len(x) == 0:
            return np.zeros((0, *x.shape[2:]), dtype=np.float32)
        step = self.batch_size or len(x)
        parts = [
            self.session.run([OUTPUT_NAME], {INPUT_NAME: x[start : start + step]})[0]
            for start in range(0, len(x), step)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)


def default_providers(*, cache_dir: Path | str | None = None) -> list[Provider]:
    """GPU execution providers where this onnxruntime build has them, then the CPU.

    TensorRT is tried only when the ``tensorrt`` package is installed too (a GPU build lists
    its provider regardless); its engines and timing caches live under ``cache_dir``.
    """
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    providers: list[Provider] = []
    if "TensorrtExecutionProvider" in available and importlib.util.find_spec("tensorrt"):
        trt_cache = str(resolve_cache_dir(cache_dir) / "onnxruntime-tensorrt")
        options = {
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": trt_cache,
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": trt_cache,
        }
        providers.append(("TensorrtExecutionProvider", options))
    if "CUDAExecutionProvider" in available:
        providers.append("CUDAExecutionProvider")
    providers.append("CPUExecutionProvider")
    return providers
