"""OpenVINO engine: the cached ONNX export compiled for the CPU, in bf16 where the CPU has it.

On CPUs with AMX or AVX-512 bf16 units OpenVINO runs the U-Net's convolutions in bfloat16
(the ``INFERENCE_PRECISION_HINT``), several times faster than ONNX Runtime's fp32 kernels;
elsewhere it runs fp32. ``int8`` runs the NNCF-quantised model of `hts.engines.int8`
(built by ``python -m hts.segment.int8``). Compiled models are cached per node
(OpenVINO's ``CACHE_DIR``), so a worker's second start skips the compilation.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from hts.engines.base import onnx_input
from hts.engines.cache import int8_model_path, resolve_cache_dir
from hts.engines.cpu import cpu_has_int8
from hts.engines.onnx_export import cached_onnx
from hts.engines.settings import engine_threads

__all__ = ["PRECISIONS", "OpenVinoEngine", "cpu_has_bf16", "cpu_has_int8"]

logger = logging.getLogger(__name__)

#: Precisions ``OpenVinoEngine`` accepts -> OpenVINO's inference precision hint. The INT8
#: model's layers left in floating point run in f32: on an AVX-512 bf16 CPU without AMX
#: (AMD EPYC, 2026-12-02) a bf16 hint made it 1.5x slower.
PRECISIONS = {"bf16": "bf16", "fp32": "f32", "int8": "f32"}


def cpu_has_bf16(core: Any = None) -> bool:
    """Whether OpenVINO's CPU plugin can run bf16 here (AMX or AVX-512 bf16 units)."""
    import openvino as ov

    core = core or ov.Core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoEngine:
    """The network compiled by OpenVINO for the CPU.

    Parameters
    ----------
    weights : path
        A ``.pt`` weight file (exported to ONNX once, see :func:`cached_onnx`) or an
        ``.onnx`` file of :func:`export_onnx`.
    precision : {"bf16", "fp32", "int8"}, optional
        Inference precision; default: bf16 where :func:`cpu_has_bf16`, else fp32. ``int8``
        needs the INT8 model of ``weights`` in the cache (`hts.engines.int8`).
    threads : int, optional
        Inference threads; default: `hts.engines.settings.engine_threads` (``$HTS_ENGINE_THREADS``,
        which hts's local clusters set per worker process, else ``$OMP_NUM_THREADS``), else
        all cores.

    ``predict`` may be called from several threads at once (a Dask worker with several
    threads): each thread gets its own inference request on the one compiled model.
    cache_dir : path, optional
        Where ONNX exports and compiled models are cached.
    """

    def __init__(
        self,
        weights: Path | str,
        *,
        precision: str | None = None,
        threads: int | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        import openvino as ov

        core = ov.Core()
        precision = precision or ("bf16" if cpu_has_bf16(core) else "fp32")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.precision = precision
        self.onnx_path = cached_onnx(weights, cache_dir=cache_dir)
        threads = engine_threads(threads)
        model = core.read_model(str(self.onnx_path))
        self.model_id = _model_id(model, default=Path(weights).stem)
        if precision == "int8":
            model = core.read_model(str(_int8_model(weights, cache_dir)))
        config: dict[str, str] = {
            "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
            "PERFORMANCE_HINT": "LATENCY",  # one request at a time, all threads on it
            "CACHE_DIR": str(resolve_cache_dir(cache_dir) / "openvino"),
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        self._compiled = core.compile_model(model, "CPU", config)
        # An inference request holds its input and output buffers: one per thread.
        self._requests = threading.local()
        logger.info("openvino model for %s on the CPU in %s", self.model_id, precision)

    @property
    def name(self) -> str:
        return f"openvino-cpu-{self.precision}"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Spheroid probabilities of a batch; see `hts.engines.base.Engine.predict`."""
        x = onnx_input(batch)
        if len(x) == 0:
            return np.zeros((0, *x.shape[2:]), dtype=np.float32)
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        result = request.infer({0: x})
        return np.array(result[self._compiled.output(0)], dtype=np.float32)


def _int8_model(weights: Path | str, cache_dir: Path | str | None) -> Path:
    """The cached INT8 IR of ``weights``, or ``FileNotFoundError`` naming the command."""
    path = int8_model_path(weights, cache_dir=cache_dir)
    if not path.is_file():
        raise FileNotFoundError(
            f"no INT8 model of {weights} in the cache ({path}); build it with "
            f"`python -m hts.segment.int8 --model {weights}`"
        )
    return path


def _model_id(model: object, *, default: str) -> str:
    """The ``model_id`` our ONNX export wrote into the file's metadata."""
    key = ["framework", "model_id"]
    if model.has_rt_info(key):  # type: ignore[attr-defined]
        return str(model.get_rt_info(key).astype(str))  # type: ignore[attr-defined]
    return default
