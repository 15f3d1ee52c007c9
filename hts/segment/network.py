"""A segmenter built from a neural network engine: the paper's pre- and post-processing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from hts.engines import Engine, get_engine
from hts.measure.choose import SpheroidChoice, choose_spheroid
from hts.segment.outline import OutlineRule, keep_margin, refine_outline
from hts.segment.preprocess import PreprocessConfig, preprocess, restore_probability

__all__ = [
    "EDGE_SUFFIX",
    "FLIPS",
    "NEAR_SUFFIX",
    "POLARITY_SUFFIX",
    "SCALE_MARK",
    "TTA_SUFFIX",
    "ZOOM_SUFFIX",
    "NetworkSegmenter",
    "PolarityRule",
    "ZoomRule",
    "mode_suffix",
]

#: Appended to a model id (and accepted after a segmenter name) for flip-averaged results.
TTA_SUFFIX = "+tta"
#: Appended after it for results where a small or doubtful spheroid got a second, closer look.
ZOOM_SUFFIX = "+zoom"
#: In its place for results where that closer look saw only a window around the spheroid.
NEAR_SUFFIX = "+near"
#: Appended after it for results where a doubtful image was also seen inverted.
POLARITY_SUFFIX = "+pol"
#: Appended last for results whose outline was grown to the dark cells around the
#: network's spheroid (`hts.segment.outline`).
EDGE_SUFFIX = "+edge"
#: Marks a network input scale other than the paper's in a model id or segmenter name
#: (``unet@0.6``: the image resized to 0.6 of its size instead of half).
SCALE_MARK = "@"


def mode_suffix(
    *,
    scale: float | None,
    flip_average: bool,
    zoom: bool = False,
    polarity: bool = False,
    edge: bool = False,
    near: bool = False,
) -> str:
    """What a model id gets for a non-default input scale (None: the default), for flip
    averaging, for the second look at small spheroids (of the whole image, ``zoom``, or
    of a window around the spheroid, ``near``), for the polarity check and for the
    outline grown to the dark cells around it, in that order: ``""``, ``"@0.6"``,
    ``"+tta"``, ``"+edge"``, ``"+near+edge"``, ``"@0.6+tta+zoom+pol+edge"``, ..."""
    if zoom and near:
        raise ValueError("a closer look is of the whole image (+zoom) or near the spheroid (+near)")
    marked = scale is not None and scale != PreprocessConfig().scale
    return (
        (f"{SCALE_MARK}{scale:g}" if marked else "")
        + (TTA_SUFFIX if flip_average else "")
        + (ZOOM_SUFFIX if zoom else "")
        + (NEAR_SUFFIX if near else "")
        + (POLARITY_SUFFIX if polarity else "")
        + (EDGE_SUFFIX if edge else "")
    )


@dataclass(frozen=True)
class PolarityRule:
    """When an image is also seen inverted, and when the inverted look is kept.

    Brightfield spheroids are darker than the well; inverted exports and darkfield-like
    views show them brighter, and a network trained mostly on the first finds little in
    them. Where the first look is doubtful (its spheroid, chosen as `hts run` chooses it,
    has a mean probability under ``doubt_below``, or there is none), the network also
    sees the inverted input; its map replaces the first when its spheroid is both more
    confident by ``gain`` and scores higher (`hts.measure.choose.choose_spheroid`), and
    covers at most ``max_area_fraction`` of the image: inverted, the bright inside of a
    whole well is a large, confident disc. Confident images cost one network pass,
    doubtful ones two; a bright spheroid filling more of the frame than that is not found.
    """

    doubt_below: float = 0.9
    gain: float = 0.08
    max_area_fraction: float = 0.15


@dataclass(frozen=True)
class ZoomRule:
    """When the network takes a second, closer look at an image, and when it is kept.

    At the paper's half resolution a spheroid of 80 network pixels across or less (160
    image pixels: a remnant, a whole-well view at low magnification, a coarse camera) is
    smaller than most spheroids the network learnt from, and it often finds nothing or a
    fragment. Where the first look's spheroid (chosen as `hts run` chooses it) is that
    small (``small_below_px``, equivalent diameter at network resolution), or its mean
    probability is under ``doubt_below``, or there is none, the network sees the image
    again at ``factor`` times the input scale, with at most ``max_pixels`` network input
    pixels (a 2496 x 2496 whole-well image gets 0.82 instead of 1). The closer look
    replaces the first where its spheroid is at least as confident. Large, confident
    spheroids cost one pass; the others five times the pixels of one.

    With ``window`` (``+near``) the closer look sees only a square around the first look's
    spheroid: ``1 + 2 window`` times the longer side of its box, at least
    ``min_window_px`` image pixels, within the image; where the first look found no
    spheroid there is no closer look. Its map replaces the first map inside the square,
    and the result is kept where its spheroid is at least as confident. On the evaluation
    sets this finds most of what the whole image's closer look finds, at a fraction of
    its cost, but not spheroids the first look missed altogether (docs/model-card.md).

    The thresholds were chosen on our own generator's images (seed 19: 160 images, many
    whole-well views and small spheroids) and the real-dev set, not on the held-out
    renderer (docs/model-card.md).
    """

    small_below_px: float = 80.0
    doubt_below: float = 0.8
    factor: float = 2.0
    max_pixels: int = 2048 * 2048
    window: float | None = None
    min_window_px: int = 256

    @classmethod
    def near(cls) -> ZoomRule:
        """The closer look of ``+near``: a window around the spheroid, half as wide again as
        the spheroid on each side (twice its size)."""
        return cls(window=0.5)

    def window_box(
        self, box: tuple[int, int, int, int], shape: tuple[int, int]
    ) -> tuple[slice, slice]:
        """The window around an object's box ``(x, y, w, h)`` in an image of ``shape``,
        as (row, column) slices."""
        if self.window is None:
            return slice(0, shape[0]), slice(0, shape[1])
        x, y, w, h = box
        side = max(self.min_window_px, round((1.0 + 2.0 * self.window) * max(w, h)))
        y0 = min(max(0, y + h // 2 - side // 2), max(0, shape[0] - side))
        x0 = min(max(0, x + w // 2 - side // 2), max(0, shape[1] - side))
        return slice(y0, min(shape[0], y0 + side)), slice(x0, min(shape[1], x0 + side))


def _spheroid_confidence(probability: np.ndarray) -> tuple[float, float, float]:
    """(mean probability inside the chosen spheroid, its choice score, its share of the
    image); (0, -inf, 0) if there is none."""
    choice = choose_spheroid(probability >= 0.5, probability)
    if not choice.candidates:
        return 0.0, -math.inf, 0.0
    p, share = _chosen_confidence(choice, probability)
    return p, float(choice.candidates[choice.index].score), share


def _chosen_confidence(choice: SpheroidChoice, probability: np.ndarray) -> tuple[float, float]:
    """(mean probability inside the chosen spheroid, its share of the image); (0, 0) if
    there is none."""
    if not choice.candidates:
        return 0.0, 0.0
    chosen = choice.spheroid.full()
    return float(probability[chosen].mean()), float(chosen.mean())


def _vertical(x: np.ndarray) -> np.ndarray:
    return x[:, ::-1]


def _horizontal(x: np.ndarray) -> np.ndarray:
    return x[:, :, ::-1]


def _rotate180(x: np.ndarray) -> np.ndarray:
    return x[:, ::-1, ::-1]


#: The paper's training transforms, on ``(B, Y, X)`` batches; each is its own inverse.
FLIPS = (_vertical, _horizontal, _rotate180)


@dataclass
class NetworkSegmenter:
    """Preprocess (min-max, half resolution, pad to 32), run the engine, map back.

    With ``flip_average`` (test-time augmentation) the network also sees the input flipped
    vertically, horizontally and rotated by 180 degrees (the paper's training transforms),
    and the four probability maps, flipped back, are averaged: four engine calls per batch
    for a lower error on debris images (docs/model-card.md). ``config.scale`` other than the
    paper's 0.5 runs the network on a larger (or smaller) input: small remnants get more
    pixels. The ``model_id`` records both (``unet-r34-v4@0.6+tta``), so results of
    different modes never mix in one store.
    """

    engine: Engine
    model_id: str
    config: PreprocessConfig = field(default_factory=PreprocessConfig)
    flip_average: bool = False
    polarity: PolarityRule | None = None
    zoom: ZoomRule | None = None
    outline: OutlineRule | None = None

    @classmethod
    def load(
        cls,
        weights: Path,
        *,
        engine: str = "torch",
        engine_options: dict[str, Any] | None = None,
        flip_average: bool = False,
        scale: float | None = None,
        zoom: bool = False,
        polarity: bool = False,
        edge: bool = False,
        near: bool = False,
    ) -> NetworkSegmenter:
        """Load ``weights`` into ``engine`` (`hts.engines.get_engine` with
        ``engine_options``)."""
        config = PreprocessConfig() if scale is None else PreprocessConfig(scale=scale)
        loaded = get_engine(engine, weights, **(engine_options or {}))
        model_id = loaded.model_id
        model_id += mode_suffix(
            scale=config.scale,
            flip_average=flip_average,
            zoom=zoom,
            polarity=polarity,
            edge=edge,
            near=near,
        )
        rule = ZoomRule() if zoom else ZoomRule.near() if near else None
        return cls(
            loaded,
            model_id,
            config=config,
            flip_average=flip_average,
            polarity=PolarityRule() if polarity else None,
            zoom=rule,
            outline=OutlineRule() if edge else None,
        )

    @property
    def engine_name(self) -> str:
        return self.engine.name

    def predict(self, image: np.ndarray, *, pixel_size_um: float | None = None) -> np.ndarray:
        return self.predict_batch([image], pixel_size_um=pixel_size_um)[0]

    def predict_batch(
        self, images: list[np.ndarray], *, pixel_size_um: float | None = None
    ) -> list[np.ndarray]:
        """Probabilities ``(Y, X)`` float32 per image; images of one shape share one engine
        call. The network works in pixels; ``pixel_size_um`` is needed only to place the
        outline (``outline``, ``+edge``), whose dark-pixel map has kernels in um."""
        if self.outline is not None and pixel_size_um is None:
            raise ValueError(
                f"{self.model_id}: the outline rule (+edge) needs the images' pixel size"
            )
        if len({im.shape for im in images}) > 1:
            return [
                p for im in images for p in self.predict_batch([im], pixel_size_um=pixel_size_um)
            ]
        batch = np.stack([preprocess(im, self.config) for im in images])
        out = [
            restore_probability(p, original_shape=im.shape, config=self.config)
            for p, im in zip(self._network(batch), images, strict=True)
        ]
        if self.zoom is not None:
            self._look_closer(images, out, self.zoom)
        if self.polarity is not None:
            self._check_polarity(batch, images, out, self.polarity)
        if self.outline is not None and pixel_size_um is not None:
            out = [
                refine_outline(p, im, pixel_size_um=pixel_size_um, rule=self.outline)
                for p, im in zip(out, images, strict=True)
            ]
        return out

    def _look_closer(self, images: list[np.ndarray], out: list[np.ndarray], rule: ZoomRule) -> None:
        """Replace, in place, the outlines of images whose spheroid is small or doubtful by
        a closer look's where that is at least as confident (`ZoomRule`); the certainty
        stays the first look's (`keep_margin`)."""
        for i, (image, probs) in enumerate(zip(images, out, strict=True)):
            choice = choose_spheroid(probs >= 0.5, probs)
            p, share = _chosen_confidence(choice, probs)
            across = math.sqrt(4.0 * share * probs.size / math.pi) * self.config.scale
            if across >= rule.small_below_px and p >= rule.doubt_below:
                continue
            pixels = float(image.shape[0] * image.shape[1])
            scale = min(self.config.scale * rule.factor, math.sqrt(rule.max_pixels / pixels))
            if scale <= self.config.scale:
                continue
            if rule.window is not None and not choice.candidates:
                continue  # nothing to look at more closely
            closer = replace(self.config, scale=scale)
            rows, cols = (
                rule.window_box(choice.candidates[choice.index].box, probs.shape)
                if choice.candidates
                else (slice(0, probs.shape[0]), slice(0, probs.shape[1]))
            )
            part = image[rows, cols]
            looked = restore_probability(
                self._network(preprocess(part, closer)[None])[0],
                original_shape=part.shape,
                config=closer,
            )
            if looked.shape == probs.shape:
                again = looked
            else:
                again = probs.copy()
                again[rows, cols] = looked
            if _spheroid_confidence(again)[0] >= p:
                # The closer look's outline, the first look's certainty: QC's
                # low_confidence keeps measuring the look at the whole image, whose
                # coarser map shows doubt that a sharper look would hide.
                closer_mask = again >= 0.5
                out[i] = keep_margin(probs, closer_mask, closer_mask != (probs >= 0.5))

    def _network(self, batch: np.ndarray) -> np.ndarray:
        """(B, y, x) probabilities of a preprocessed batch, flip-averaged if asked."""
        probs = np.asarray(self.engine.predict(batch), dtype=np.float32)
        if self.flip_average:
            probs = probs.copy()  # summed into below; an engine may hand out its own buffer
            for flip in FLIPS:
                probs += flip(self.engine.predict(np.ascontiguousarray(flip(batch))))
            probs /= np.float32(1 + len(FLIPS))
        return probs

    def _check_polarity(
        self,
        batch: np.ndarray,
        images: list[np.ndarray],
        out: list[np.ndarray],
        rule: PolarityRule,
    ) -> None:
        """Replace, in place, the maps of doubtful images by their inverted look where it
        finds a clearly more confident spheroid (`PolarityRule`)."""
        first = [_spheroid_confidence(p) for p in out]
        doubtful = [i for i, (p, _, _) in enumerate(first) if p < rule.doubt_below]
        if not doubtful:
            return
        inverted = self._network(np.ascontiguousarray(255 - batch[doubtful]))
        for i, probs in zip(doubtful, inverted, strict=True):
            again = restore_probability(probs, original_shape=images[i].shape, config=self.config)
            p, score, share = _spheroid_confidence(again)
            if (
                p > first[i][0] + rule.gain
                and score > first[i][1]
                and share <= rule.max_area_fraction
            ):
                out[i] = again
