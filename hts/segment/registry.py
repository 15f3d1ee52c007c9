"""Segmenters behind one small interface, registered by name and loaded once per process.

A segmenter turns one image ``(Y, X)`` into a spheroid probability map ``(Y, X)`` float32 in
[0, 1]; thresholding, the largest object and measurements are shared post-processing.
Its ``model_id`` names what produced a result, so a re-run with another model redoes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hts.models.paths import DEFAULT_MODEL, model_path, weights_model_id
from hts.segment.network import TTA_SUFFIX, NetworkSegmenter

__all__ = [
    "Segmenter",
    "available_segmenters",
    "get_segmenter",
    "register_segmenter",
    "segmenter_model_id",
]


class Segmenter(Protocol):
    """Anything that maps a brightfield image to a spheroid probability map."""

    @property
    def model_id(self) -> str:
        """Name and version of what produces the probabilities, e.g. 'unet-r34-v4'."""
        ...

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        """``(Y, X)`` uint8/uint16 image -> ``(Y, X)`` float32 probabilities in [0, 1]."""
        ...


@dataclass(frozen=True)
class ClassicalSegmenter:
    """The ``classical`` baseline: background flattening, Otsu threshold, morphology.

    Not a neural network; kept as the named baseline to compare the U-Net against.
    """

    model_id: str = "classical-1"

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        from hts.segment.classical import segment_classical

        return segment_classical(image, pixel_size_um=pixel_size_um)


def _network(weights: str, engine: str | None, *, flip_average: bool = False) -> Segmenter:
    from hts.engines.select import auto_engine_name

    return NetworkSegmenter.load(
        model_path(weights), engine=engine or auto_engine_name(), flip_average=flip_average
    )


def _unet(engine: str | None) -> Segmenter:
    return _network(DEFAULT_MODEL, engine)


def _classical(engine: str | None) -> Segmenter:
    return ClassicalSegmenter()


#: name -> factory(engine name or None for automatic)
_FACTORIES: dict[str, Callable[[str | None], Segmenter]] = {
    "classical": _classical,
    "unet": _unet,
}


def register_segmenter(name: str, factory: Callable[[str | None], Segmenter]) -> None:
    """Make ``factory`` available as ``get_segmenter(name)``."""
    _FACTORIES[name] = factory
    get_segmenter.cache_clear()


def available_segmenters() -> list[str]:
    return sorted(_FACTORIES)


def _network_spec(name: str) -> tuple[str, bool] | None:
    """``(weights, flip-average)`` when ``name`` is the shipped U-Net or a weight file,
    either of them optionally followed by ``+tta``; None for any other segmenter."""
    base = name.removesuffix(TTA_SUFFIX)
    if base == "unet" and _FACTORIES.get(base) is _unet:
        return DEFAULT_MODEL, base != name
    if base.endswith((".pt", ".onnx")) and name not in _FACTORIES:
        return base, base != name
    return None


@functools.cache
def get_segmenter(name: str, engine: str | None = None) -> Segmenter:
    """The segmenter ``name``, built once per process (and so once per Dask worker).

    ``name``: a registered name (``unet``, ``unet+tta``, ``classical``), the path of a
    weight file (with ``+tta`` appended: flip-averaged, see `NetworkSegmenter`), or
    ``package.module:factory`` for a segmenter of your own (called with the engine name).
    ``engine`` picks the inference engine of network segmenters (default: automatic).
    """
    if name in _FACTORIES:
        return _FACTORIES[name](engine)
    spec = _network_spec(name)
    if spec is not None:
        return _network(spec[0], engine, flip_average=spec[1])
    if ":" in name:
        import importlib

        module, _, attr = name.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        return factory(engine)
    raise ValueError(
        f"unknown segmenter {name!r}; available: {', '.join(available_segmenters())}, "
        "the path of a weight file, unet or a weight file followed by +tta, "
        "or package.module:factory"
    )


def segmenter_model_id(name: str, engine: str | None = None) -> str:
    """The ``model_id`` that `get_segmenter` ``(name, engine)`` will carry.

    For the shipped U-Net and weight files it is read from the file, so a client that only
    plans a run never builds (or compiles) the network its workers will run.
    """
    spec = _network_spec(name)
    if spec is not None:
        weights, flip_average = spec
        return weights_model_id(model_path(weights)) + (TTA_SUFFIX if flip_average else "")
    return get_segmenter(name, engine).model_id
