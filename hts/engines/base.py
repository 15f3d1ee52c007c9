"""The engine interface: load once, then ``predict(batch) -> spheroid probabilities``.

Engines see the network's input exactly: ``(B, Y, X)`` uint8 batches already preprocessed
(min-max, half resolution, padded to 32). Heavy imports happen inside each engine.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = [
    "THREADS_ENV",
    "Engine",
    "available_engines",
    "check_batch",
    "engine_threads",
    "get_engine",
    "onnx_input",
    "register_engine",
]


class Engine(Protocol):
    """A loaded network that maps input batches to spheroid probabilities."""

    @property
    def name(self) -> str: ...

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Spheroid probabilities of a batch.

        Parameters
        ----------
        batch : (B, Y, X) uint8
            Preprocessed network input; Y and X multiples of 32.

        Returns
        -------
        (B, Y, X) float32
            Probability of the spheroid class, in [0, 1].
        """
        ...


#: Environment variable naming the CPU threads one engine may use. Dask's nanny resets
#: ``OMP_NUM_THREADS`` to 1 in every worker process, so it cannot carry this.
THREADS_ENV = "HTS_ENGINE_THREADS"


def engine_threads(threads: int | None = None) -> int | None:
    """CPU threads for an engine: ``threads`` if given, else ``$HTS_ENGINE_THREADS``, else
    ``$OMP_NUM_THREADS``, else None (the runtime's own default: every core)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        return threads
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"${name} must be a positive integer, got {value!r}")
            return int(value)
    return None


def check_batch(batch: np.ndarray) -> np.ndarray:
    """The batch as a C-contiguous ``(B, Y, X)`` uint8 array, or ``ValueError``."""
    array = np.asarray(batch)
    if array.ndim != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected a (B, Y, X) uint8 batch, got {array.shape} {array.dtype}")
    return np.ascontiguousarray(array)


def onnx_input(batch: np.ndarray) -> np.ndarray:
    """A checked ``(B, Y, X)`` uint8 batch as the ONNX export's input: ``(B, 1, Y, X)``
    float32 in [0, 1]."""
    return check_batch(batch)[:, None].astype(np.float32) / np.float32(255.0)


_ENGINES: dict[str, Callable[[Path], Engine]] = {}


def register_engine(name: str, factory: Callable[[Path], Engine]) -> None:
    _ENGINES[name] = factory


def available_engines() -> list[str]:
    return sorted(_ENGINES)


def get_engine(name: str, weights: Path) -> Engine:
    """Load ``weights`` into the engine ``name``."""
    if name not in _ENGINES:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(available_engines())}")
    return _ENGINES[name](weights)


def _torch(weights: Path) -> Engine:
    from hts.engines.torch_engine import TorchEngine

    return TorchEngine(weights)


def _onnxruntime(weights: Path) -> Engine:
    from hts.engines.onnxruntime_engine import OnnxRuntimeEngine

    return OnnxRuntimeEngine(weights)


def _openvino(weights: Path, precision: str | None = None) -> Engine:
    from hts.engines.openvino_engine import OpenVinoEngine

    return OpenVinoEngine(weights, precision=precision)


def _tensorrt(weights: Path) -> Engine:
    from hts.engines.tensorrt_engine import TensorRTEngine

    return TensorRTEngine(weights)


register_engine("torch", _torch)
register_engine("onnxruntime", _onnxruntime)
register_engine("openvino", _openvino)
# one precision each (the automatic choice names what it timed; int8: `hts.engines.int8`)
for _precision in ("bf16", "fp32", "int8"):
    register_engine(f"openvino-{_precision}", functools.partial(_openvino, precision=_precision))
register_engine("tensorrt", _tensorrt)
