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

A name as users write it (``unet@0.6+tta+zoom+pol``, ``classical``, ``FILE.pt``, a plugin's name)
is parsed once, at the edge (CLI, flow, `hts.distributed.run_plate`), into a
`SegmenterSpec`: the frozen record that travels to the workers and knows its model id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

import numpy as np

from hts.models.paths import DEFAULT_MODEL, DEFAULT_SEGMENTER, model_path, weights_model_id
from hts.segment.network import (
    EDGE_SUFFIX,
    NEAR_SUFFIX,
    POLARITY_SUFFIX,
    SCALE_MARK,
    TTA_SUFFIX,
    ZOOM_SUFFIX,
    NetworkSegmenter,
    mode_suffix,
)

__all__ = [
    "DEFAULT_SEGMENTER",
    "PLUGIN_GROUP",
    "ClassicalSegmenter",
    "Segmenter",
    "SegmenterSpec",
    "as_spec",
    "available_segmenters",
    "get_segmenter",
    "register_segmenter",
    "segmenter_model_id",
]


class Segmenter(Protocol):
    """Anything that maps brightfield images to spheroid probability maps."""

    @property
    def model_id(self) -> str:
        """Name and version of what produces the probabilities, e.g. 'unet-r34-v6'."""
        ...

    @property
    def engine_name(self) -> str | None:
        """The inference engine as it runs (``openvino-cpu-bf16``); None without one."""
        ...

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        """``(Y, X)`` uint8/uint16 image -> ``(Y, X)`` float32 probabilities in [0, 1]."""
        ...

    def predict_batch(self, images: list[np.ndarray], *, pixel_size_um: float) -> list[np.ndarray]:
        """`predict` of each image; images of one shape may share one engine call."""
        ...


@dataclass(frozen=True)
class ClassicalSegmenter:
    """The ``classical`` baseline: background flattening, Otsu threshold, morphology.

    Not a neural network; kept as the named baseline to compare the U-Net against.
    """

    model_id: str = "classical-1"
    engine_name: str | None = None

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        from hts.segment.classical import segment_classical

        return segment_classical(image, pixel_size_um=pixel_size_um)

    def predict_batch(self, images: list[np.ndarray], *, pixel_size_um: float) -> list[np.ndarray]:
        return [self.predict(im, pixel_size_um=pixel_size_um) for im in images]


@dataclass(frozen=True)
class _ImageByImage:
    """A plugin's segmenter that predicts one image at a time, behind the whole interface."""

    segmenter: Any  # has model_id and predict(image, *, pixel_size_um)

    @property
    def model_id(self) -> str:
        return str(self.segmenter.model_id)

    @property
    def engine_name(self) -> str | None:
        return None

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        return np.asarray(self.segmenter.predict(image, pixel_size_um=pixel_size_um))

    def predict_batch(self, images: list[np.ndarray], *, pixel_size_um: float) -> list[np.ndarray]:
        return [self.predict(im, pixel_size_um=pixel_size_um) for im in images]


@dataclass(frozen=True)
class SegmenterSpec:
    """One segmenter setting, parsed once (`parse`) and passed on as it is.

    Network segmenters (``unet``, a weight file) have ``weights`` and may run at another
    input ``scale`` (None: the paper's half resolution), with ``flip_average`` (``+tta``),
    a closer look at small or doubtful spheroids (``zoom``, ``+zoom``: the whole image;
    ``near``, ``+near``: a window around the spheroid), the
    ``polarity`` check (``+pol``) and the outline grown to the dark cells around the
    spheroid (``edge``, ``+edge``); others (``classical``, plugins) have only a
    ``name``. ``engine`` (None: chosen on each worker) and ``engine_options`` (keyword
    options of `hts.engines.get_engine`, e.g. ``threads``) say how a network runs; they do
    not change results, so the `model_id` leaves them out.
    """

    name: str  # as written, without @SCALE, +tta, +pol: "unet", "classical", a plugin, a file
    weights: str | None = None  # network segmenters: a shipped model's name or a file's path
    scale: float | None = None
    flip_average: bool = False
    zoom: bool = False
    polarity: bool = False
    edge: bool = False
    near: bool = False
    engine: str | None = None
    engine_options: tuple[tuple[str, Any], ...] = ()  # sorted (option, value) pairs

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        engine: str | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> SegmenterSpec:
        """The setting ``text`` names: ``unet`` or a weight file, optionally followed by
        ``@SCALE`` (network input scale instead of the paper's 0.5), then ``+tta``, then
        ``+zoom`` or ``+near``, then ``+pol``, then ``+edge``; or a registered name
        (``classical``); or an installed plugin's name.

        Raises ``ValueError`` for anything else: a name never selects a module to import.
        """
        options = tuple(sorted((engine_options or {}).items()))
        found = _network_setting(text)
        if found is not None:
            return cls(**found, engine=engine, engine_options=options)
        if text in _FACTORIES or text in _plugins():
            return cls(text, engine=engine, engine_options=options)
        hint = (
            f" (segmenters of other packages are not imported by module name: install the "
            f"package, declaring its factory in the {PLUGIN_GROUP!r} entry-point group)"
            if ":" in text
            else ""
        )
        raise ValueError(
            f"unknown segmenter {text!r}; available: {', '.join(available_segmenters())}, "
            f"the path of a weight file, or unet or a weight file followed by @SCALE, +tta, "
            f"+zoom or +near, +pol and/or +edge{hint}"
        )

    @property
    def is_network(self) -> bool:
        return self.weights is not None

    @property
    def options(self) -> dict[str, Any]:
        """``engine_options`` as keyword options."""
        return dict(self.engine_options)

    @functools.cached_property
    def model_id(self) -> str:
        """The id results of this setting carry, e.g. ``unet-r34-v6@0.6+tta``.

        For networks it is read from the weight file alone (no network is built, so a
        client that only plans a run never loads what its workers will run); for other
        segmenters it is the built segmenter's (built once per process).
        """
        if self.weights is None:
            return get_segmenter(self).model_id
        return weights_model_id(model_path(self.weights)) + self._suffix()

    def _suffix(self) -> str:
        return mode_suffix(
            scale=self.scale,
            flip_average=self.flip_average,
            zoom=self.zoom,
            polarity=self.polarity,
            edge=self.edge,
            near=self.near,
        )

    def __str__(self) -> str:
        """The setting as `parse` reads it (engine aside), e.g. ``unet@0.6+tta``."""
        return self.name + self._suffix()

    def load(self) -> Segmenter:
        """Build the segmenter (and its engine) now; `get_segmenter` caches it per process."""
        if self.weights is not None:
            from hts.engines import auto_engine_name

            weights = model_path(self.weights)
            options = self.options
            engine = self.engine or auto_engine_name(weights, cache_dir=options.get("cache_dir"))
            return NetworkSegmenter.load(
                weights,
                engine=engine,  # automatic: timed on this CPU, see hts.engines.select
                engine_options=options,
                flip_average=self.flip_average,
                scale=self.scale,
                zoom=self.zoom,
                polarity=self.polarity,
                edge=self.edge,
                near=self.near,
            )
        if self.name in _FACTORIES:
            return _FACTORIES[self.name](self.engine)
        plugin = _plugins().get(self.name)
        if plugin is None:
            raise ValueError(f"segmenter {self.name!r} is not installed in this process")
        built = plugin.load()(self.engine)
        # a plugin may predict one image at a time; probed once, here, not per block
        whole = hasattr(built, "predict_batch") and hasattr(built, "engine_name")
        return built if whole else _ImageByImage(built)


def _unet(engine: str | None) -> Segmenter:
    return SegmenterSpec("unet", DEFAULT_MODEL, engine=engine).load()


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
    _built.cache_clear()


def _plugins() -> dict[str, EntryPoint]:
    """Segmenter factories declared by installed packages, by name (built-ins excluded)."""
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in _FACTORIES}


def available_segmenters() -> list[str]:
    """Names `get_segmenter` accepts: built-in, registered, and installed plugins."""
    return sorted({*_FACTORIES, *_plugins()})


def _network_setting(text: str) -> dict[str, Any] | None:
    """The fields of a network `SegmenterSpec` that ``text`` asks for (the shipped U-Net or
    a weight file, with ``@SCALE``, ``+tta``, ``+zoom`` or ``+near``, ``+pol``, ``+edge``); None
    for any other
    segmenter."""
    if text in _FACTORIES and _FACTORIES[text] is not _unet:
        return None

    def weights(base: str) -> str | None:
        if base == "unet" and _FACTORIES.get(base) is _unet:
            return DEFAULT_MODEL
        if base.endswith((".pt", ".onnx")) and base not in _FACTORIES:
            return base
        return None

    unedged = text.removesuffix(EDGE_SUFFIX)
    edge = unedged != text
    unpolar = unedged.removesuffix(POLARITY_SUFFIX)
    polarity = unpolar != unedged
    unnear = unpolar.removesuffix(NEAR_SUFFIX)
    near = unnear != unpolar
    unzoomed = unnear.removesuffix(ZOOM_SUFFIX)
    zoom = unzoomed != unnear
    if zoom and near:
        return None  # one closer look: of the whole image or near the spheroid
    base = unzoomed.removesuffix(TTA_SUFFIX)
    flip_average = base != unzoomed
    scale: float | None = None
    head, mark, tail = base.rpartition(SCALE_MARK)
    if mark and weights(head) is not None:
        try:
            scale = float(tail)
        except ValueError:
            raise ValueError(
                f"segmenter {text!r}: {tail!r} after {SCALE_MARK!r} is not an input scale "
                f"(e.g. unet{SCALE_MARK}0.6)"
            ) from None
        if not 0.1 <= scale <= 2.0:
            raise ValueError(f"segmenter {text!r}: input scale {scale:g} is outside 0.1-2")
        base = head
    found = weights(base)
    if found is None:
        return None
    return {
        "name": base,
        "weights": found,
        "scale": scale,
        "flip_average": flip_average,
        "zoom": zoom,
        "polarity": polarity,
        "edge": edge,
        "near": near,
    }


def as_spec(segmenter: SegmenterSpec | str, engine: str | None = None) -> SegmenterSpec:
    """``segmenter`` as a `SegmenterSpec`: text is parsed (with ``engine``); a spec already
    carries its engine, so ``engine`` must then be None."""
    if isinstance(segmenter, SegmenterSpec):
        if engine is not None and engine != segmenter.engine:
            raise ValueError(f"engine {engine!r} given beside a SegmenterSpec: set it in the spec")
        return segmenter
    return SegmenterSpec.parse(segmenter, engine=engine)


def get_segmenter(segmenter: SegmenterSpec | str, engine: str | None = None) -> Segmenter:
    """The segmenter of a setting, built once per process (and so once per Dask worker).

    ``segmenter``: a `SegmenterSpec`, or text for `SegmenterSpec.parse` (with ``engine``,
    the inference engine of network segmenters; default: automatic).
    """
    return _built(as_spec(segmenter, engine))


@functools.cache
def _built(spec: SegmenterSpec) -> Segmenter:
    return spec.load()


def segmenter_model_id(segmenter: SegmenterSpec | str, engine: str | None = None) -> str:
    """The ``model_id`` that `get_segmenter` ``(segmenter, engine)`` will carry (see
    `SegmenterSpec.model_id`)."""
    return as_spec(segmenter, engine).model_id
