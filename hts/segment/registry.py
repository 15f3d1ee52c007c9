"""Segmenters behind one small interface, registered by name and loaded once per process.

A segmenter turns one image ``(Y, X)`` into a spheroid probability map ``(Y, X)`` float32 in
[0, 1]; thresholding, the largest object and measurements are shared post-processing.
Its ``model_id`` names what produced a result, so a re-run with another model redoes it.

Segmenters of other packages are plugins: an installed package declares a factory in the
``hts.segmenters`` entry-point group, e.g. in its ``pyproject.toml``::

    [project.entry-points."hts.segmenters"]
    my-net = "my_package.segmenters:my_net"

and ``--model my-net`` then calls ``my_net(engine)`` on each worker. A name given at run
time only ever selects among what is installed: it never names a module to import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol

import numpy as np

from hts.models.paths import DEFAULT_MODEL, model_path, weights_model_id
from hts.segment.network import (
    POLARITY_SUFFIX,
    SCALE_MARK,
    TTA_SUFFIX,
    NetworkSegmenter,
    mode_suffix,
)

__all__ = [
    "PLUGIN_GROUP",
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
        """Name and version of what produces the probabilities, e.g. 'unet-r34-v6'."""
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


@dataclass(frozen=True)
class _NetworkSpec:
    """A network segmenter named as ``BASE[@SCALE][+tta][+pol]``."""

    weights: str  # a shipped model's name or a weight file's path
    flip_average: bool = False
    scale: float | None = None  # None: the paper's half resolution
    polarity: bool = False  # doubtful images also seen inverted

    def load(self, engine: str | None) -> Segmenter:
        from hts.engines.select import auto_engine_name

        weights = model_path(self.weights)
        return NetworkSegmenter.load(
            weights,
            engine=engine or auto_engine_name(weights),  # timed on this CPU, see select
            flip_average=self.flip_average,
            scale=self.scale,
            polarity=self.polarity,
        )

    def model_id(self) -> str:
        """The model id the segmenter will carry, read from the weight file alone."""
        return weights_model_id(model_path(self.weights)) + mode_suffix(
            scale=self.scale, flip_average=self.flip_average, polarity=self.polarity
        )


def _unet(engine: str | None) -> Segmenter:
    return _NetworkSpec(DEFAULT_MODEL).load(engine)


def _classical(engine: str | None) -> Segmenter:
    return ClassicalSegmenter()


#: name -> factory(engine name or None for automatic)
_FACTORIES: dict[str, Callable[[str | None], Segmenter]] = {
    "classical": _classical,
    "unet": _unet,
}


#: Entry-point group where installed packages declare segmenter factories.
PLUGIN_GROUP = "hts.segmenters"


def register_segmenter(name: str, factory: Callable[[str | None], Segmenter]) -> None:
    """Make ``factory`` available as ``get_segmenter(name)`` in this process.

    Dask worker processes do not see it: for a segmenter that runs on workers, declare it
    in the ``hts.segmenters`` entry-point group of an installed package instead.
    """
    _FACTORIES[name] = factory
    get_segmenter.cache_clear()


def _plugins() -> dict[str, EntryPoint]:
    """Segmenter factories declared by installed packages, by name (built-ins excluded)."""
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in _FACTORIES}


def available_segmenters() -> list[str]:
    """Names `get_segmenter` accepts: built-in, registered, and installed plugins."""
    return sorted({*_FACTORIES, *_plugins()})


def _network_spec(name: str) -> _NetworkSpec | None:
    """The network segmenter ``name`` asks for: the shipped U-Net (``unet``) or a weight
    file, either optionally followed by ``@SCALE`` (network input scale instead of the
    paper's 0.5), then ``+tta`` (flip averaging), then ``+pol`` (doubtful images also seen
    inverted, `hts.segment.network.PolarityRule`); None for any other segmenter."""
    if name in _FACTORIES and _FACTORIES[name] is not _unet:
        return None

    def weights(base: str) -> str | None:
        if base == "unet" and _FACTORIES.get(base) is _unet:
            return DEFAULT_MODEL
        if base.endswith((".pt", ".onnx")) and base not in _FACTORIES:
            return base
        return None

    unpolar = name.removesuffix(POLARITY_SUFFIX)
    polarity = unpolar != name
    base = unpolar.removesuffix(TTA_SUFFIX)
    flip_average = base != unpolar
    scale: float | None = None
    head, mark, tail = base.rpartition(SCALE_MARK)
    if mark and weights(head) is not None:
        try:
            scale = float(tail)
        except ValueError:
            raise ValueError(
                f"segmenter {name!r}: {tail!r} after {SCALE_MARK!r} is not an input scale "
                f"(e.g. unet{SCALE_MARK}0.6)"
            ) from None
        if not 0.1 <= scale <= 2.0:
            raise ValueError(f"segmenter {name!r}: input scale {scale:g} is outside 0.1-2")
        base = head
    found = weights(base)
    return None if found is None else _NetworkSpec(found, flip_average, scale, polarity)


@functools.cache
def get_segmenter(name: str, engine: str | None = None) -> Segmenter:
    """The segmenter ``name``, built once per process (and so once per Dask worker).

    ``name``: a registered name (``unet``, ``classical``), the name of a plugin declared in
    the ``hts.segmenters`` entry-point group of an installed package (its factory is called
    with the engine name), or the path of a weight file.
    ``unet`` and weight files take ``@SCALE`` (network input scale, default the paper's
    0.5), then ``+tta`` (flip-averaged), then ``+pol`` (doubtful images also seen
    inverted), e.g. ``unet@0.6+tta``; see `NetworkSegmenter`.
    ``engine`` picks the inference engine of network segmenters (default: automatic).
    """
    if name in _FACTORIES:
        return _FACTORIES[name](engine)
    spec = _network_spec(name)
    if spec is not None:
        return spec.load(engine)
    plugin = _plugins().get(name)
    if plugin is not None:
        factory: Callable[[str | None], Segmenter] = plugin.load()
        return factory(engine)
    hint = (
        f" (segmenters of other packages are not imported by module name: install the "
        f"package, declaring its factory in the {PLUGIN_GROUP!r} entry-point group)"
        if ":" in name
        else ""
    )
    raise ValueError(
        f"unknown segmenter {name!r}; available: {', '.join(available_segmenters())}, "
        f"the path of a weight file, or unet or a weight file followed by @SCALE, +tta and/or +pol{hint}"
    )


def segmenter_model_id(name: str, engine: str | None = None) -> str:
    """The ``model_id`` that `get_segmenter` ``(name, engine)`` will carry.

    For the shipped U-Net and weight files it is read from the file, so a client that only
    plans a run never builds (or compiles) the network its workers will run.
    """
    spec = _network_spec(name)
    if spec is not None:
        return spec.model_id()
    return get_segmenter(name, engine).model_id
