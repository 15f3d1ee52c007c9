"""The paper's preprocessing: gray, min-max to 8 bit, resize, pad to a multiple of 32.

A network sees ``preprocess(image, config)``; its (low-resolution, padded) output is
brought back onto the original pixel grid by `restore_probability` / `restore_mask`.
Both directions are determined by the original shape and the `PreprocessConfig`, so no
state has to travel with a batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "PreprocessConfig",
    "minmax_to_uint8",
    "pad_to_multiple",
    "preprocess",
    "resize",
    "restore_mask",
    "restore_probability",
    "scaled_shape",
    "to_gray",
    "unpad",
]

#: ITU-R BT.601 luma weights for R, G, B.
BT601_WEIGHTS = np.array([0.299, 0.587, 0.114])


def minmax_to_uint8(image: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Rescale an image linearly so its smallest value is 0 and its largest 255.

    Parameters
    ----------
    image : (Y, X) array, any integer, bool or float dtype
        Gray image; values must be finite.

    Returns
    -------
    (Y, X) uint8
        Rounded to nearest. A constant image gives zeros.
    """
    array = np.asarray(image)
    if array.size == 0:
        return np.zeros(array.shape, dtype=np.uint8)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError("image contains NaN or infinite values")
    # float32 represents every 8/16-bit value exactly; wider types need float64.
    small = array.dtype.kind in "biu" and array.dtype.itemsize <= 2
    work_dtype = np.float32 if small or array.dtype in (np.float16, np.float32) else np.float64
    lo = float(array.min())
    hi = float(array.max())
    if hi == lo:
        return np.zeros(array.shape, dtype=np.uint8)
    scaled: npt.NDArray[np.floating] = array.astype(work_dtype)
    scaled -= np.asarray(lo, dtype=work_dtype)
    scaled *= np.asarray(255.0 / (hi - lo), dtype=work_dtype)
    # In place, and no clip: x - lo >= 0 exactly, and (hi - lo) * (255 / (hi - lo)) stays
    # under 255.5 in float32, so every value already rounds into 0-255.
    return np.rint(scaled, out=scaled).astype(np.uint8)


def to_gray(image: npt.ArrayLike) -> np.ndarray:
    """Convert an RGB(A) image to gray with ITU-R BT.601 luma weights, keeping the dtype.

    Parameters
    ----------
    image : (Y, X), (Y, X, 3) or (Y, X, 4) array
        Channels in R, G, B(, A) order (as tifffile and Pillow read them); alpha is
        ignored. A (Y, X) image is returned unchanged.

    Returns
    -------
    (Y, X) array of the input dtype
        0.299 R + 0.587 G + 0.114 B; rounded to nearest for integer dtypes.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        return array
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected (Y, X), (Y, X, 3) or (Y, X, 4), got {array.shape}")
    work_dtype = np.float32 if array.dtype.itemsize <= 2 else np.float64
    gray = array[..., :3].astype(work_dtype) @ BT601_WEIGHTS.astype(work_dtype)
    if array.dtype.kind in "biu":
        # Weights sum to 1, so the result stays within the input range after rounding.
        gray = np.rint(gray)
    return gray.astype(array.dtype)


def scaled_shape(shape: tuple[int, ...], *, scale: float) -> tuple[int, int]:
    """(Y, X) shape after resizing by ``scale``: rounded to nearest, at least 1."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale}")
    return (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))


def _resize_to(image: np.ndarray, shape: tuple[int, int], interpolation: int) -> np.ndarray:
    """cv2.resize to a (Y, X) shape."""
    if image.shape[:2] == shape:
        return image.copy()
    return cv2.resize(
        np.ascontiguousarray(image), (shape[1], shape[0]), interpolation=interpolation
    )


def resize(image: npt.ArrayLike, *, scale: float) -> np.ndarray:
    """Resize an image by a factor, area-averaging when shrinking.

    Parameters
    ----------
    image : (Y, X) or (Y, X, C) array, uint8, uint16, int16, float32 or float64
        Image to resize.
    scale : float
        Factor applied to both axes; the output shape is `scaled_shape`.

    Returns
    -------
    (Y', X') or (Y', X', C) array of the input dtype
        ``cv2.INTER_AREA`` for downscaling (no aliasing), ``cv2.INTER_LINEAR`` otherwise.
    """
    array = np.asarray(image)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return _resize_to(array, scaled_shape(array.shape, scale=scale), interpolation)


def _pads(shape: tuple[int, ...], multiple: int) -> tuple[int, int]:
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    return (-shape[0] % multiple, -shape[1] % multiple)


def pad_to_multiple(
    image: npt.ArrayLike, *, multiple: int = 32
) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad the bottom and right of an image so both sides are multiples of ``multiple``.

    Reflect padding (mirror without repeating the edge pixel, ``cv2.BORDER_REFLECT_101``)
    keeps texture statistics at the border, so a network sees no artificial edge.

    Parameters
    ----------
    image : (Y, X) or (Y, X, C) array
        Image to pad; only the Y and X axes are padded.
    multiple : int, optional
        The padded Y and X sizes are multiples of this.

    Returns
    -------
    padded : (Y + pad_y, X + pad_x[, C]) array of the input dtype
    pads : tuple of int
        ``(pad_y, pad_x)``, the rows added at the bottom and columns added at the right.
    """
    array = np.asarray(image)
    if array.ndim < 2:
        raise ValueError(f"image must have Y and X axes, got shape {array.shape}")
    pad_y, pad_x = _pads(array.shape, multiple)
    if pad_y == 0 and pad_x == 0:
        return array.copy(), (0, 0)
    if _cv2_pads(array, pad_y, pad_x):
        # OpenCV's reflect-101 is numpy's "reflect", in one pass (np.pad makes several)
        image = np.ascontiguousarray(array)
        padded = cv2.copyMakeBorder(image, 0, pad_y, 0, pad_x, cv2.BORDER_REFLECT_101)
        return padded.reshape(padded.shape[:2] + array.shape[2:]), (pad_y, pad_x)
    width = [(0, pad_y), (0, pad_x)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, width, mode="reflect"), (pad_y, pad_x)


def _cv2_pads(array: np.ndarray, pad_y: int, pad_x: int) -> bool:
    """Whether OpenCV can pad ``array`` (its dtypes, up to 4 channels, pads within the image)."""
    return (
        array.dtype in (np.uint8, np.uint16, np.int16, np.float32, np.float64)
        and (array.ndim == 2 or (array.ndim == 3 and array.shape[2] <= 4))
        and pad_y < array.shape[0]
        and pad_x < array.shape[1]
    )


def unpad(image: npt.ArrayLike, pads: tuple[int, int]) -> np.ndarray:
    """Remove bottom/right padding added by `pad_to_multiple`.

    Parameters
    ----------
    image : (Y, X) or (Y, X, C) array
        Padded image (or a network output on the padded grid).
    pads : tuple of int
        ``(pad_y, pad_x)`` as returned by `pad_to_multiple`.

    Returns
    -------
    (Y - pad_y, X - pad_x[, C]) array
        A view into ``image``.
    """
    array = np.asarray(image)
    pad_y, pad_x = pads
    if pad_y < 0 or pad_x < 0 or pad_y >= array.shape[0] or pad_x >= array.shape[1]:
        raise ValueError(f"pads {pads} do not fit an image of shape {array.shape}")
    return array[: array.shape[0] - pad_y, : array.shape[1] - pad_x]


@dataclass(frozen=True)
class PreprocessConfig:
    """How an image is turned into network input.

    Attributes
    ----------
    scale : float
        Resize factor from the original image to the network input; the paper's best
        input resolution is half the original.
    multiple : int
        Network input Y and X are padded to multiples of this (a U-Net with 5
        downsampling stages needs 32).
    """

    scale: float = 0.5
    multiple: int = 32

    def __post_init__(self) -> None:
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ValueError(f"scale must be a positive number, got {self.scale}")
        if self.multiple < 1:
            raise ValueError(f"multiple must be >= 1, got {self.multiple}")

    def network_shape(self, original_shape: tuple[int, ...]) -> tuple[int, int]:
        """(Y', X') of the network input for an original image of ``original_shape``."""
        resized = scaled_shape(original_shape, scale=self.scale)
        pad_y, pad_x = _pads(resized, self.multiple)
        return (resized[0] + pad_y, resized[1] + pad_x)


def preprocess(
    image: npt.ArrayLike, config: PreprocessConfig | None = None
) -> npt.NDArray[np.uint8]:
    """Turn a microscope image into network input, as in the paper.

    Gray (BT.601, if RGB(A)), min-max rescale to 8 bit, resize by ``config.scale``,
    reflect-pad bottom/right to multiples of ``config.multiple``.

    Parameters
    ----------
    image : (Y, X), (Y, X, 3) or (Y, X, 4) array, any integer or float dtype
        Brightfield image.
    config : PreprocessConfig, optional
        Defaults to ``PreprocessConfig()``.

    Returns
    -------
    (Y', X') uint8
        ``(Y', X') == config.network_shape(image.shape)``.
    """
    config = PreprocessConfig() if config is None else config
    gray = minmax_to_uint8(to_gray(image))
    padded, _ = pad_to_multiple(resize(gray, scale=config.scale), multiple=config.multiple)
    return padded


_FLOOR = np.float32(1e-20)


def restore_probability(
    probability: npt.ArrayLike,
    *,
    original_shape: tuple[int, ...],
    config: PreprocessConfig | None = None,
) -> npt.NDArray[np.float32]:
    """Map a network output on the padded low-resolution grid back to the original grid.

    Parameters
    ----------
    probability : (Y', X') array, float or bool
        Spheroid probability (or a 0/1 mask) for the output of `preprocess`.
    original_shape : tuple of int
        Shape of the original image; only (Y, X) is used.
    config : PreprocessConfig, optional
        The config `preprocess` used. Defaults to ``PreprocessConfig()``.

    Returns
    -------
    (Y, X) float32
        Padding removed, bilinearly resized (``cv2.INTER_LINEAR``) to the original shape,
        then, when the network ran at a lower resolution, with its 0.5 outline taken from
        the map smoothed by a Gaussian of one network pixel (``sigma = 1 / scale``
        original pixels): each pixel keeps its distance from 0.5 (the network's
        certainty) but lies on the side of 0.5 that the smoothed map puts it.

    Notes
    -----
    A confident network's map is nearly binary, so the 0.5 level of its bilinear
    enlargement runs along the coarse grid in stairs as wide as a network pixel (2 pixels
    at the paper's half resolution). Traced pixel by pixel, such stairs make perimeters
    about 7 % too long and circularity about 13 % too low (seen with the shipped model on
    synthetic images); the smoothed outline has no stairs and the same area. Smoothing the
    values themselves would also flatten the map across every border, and QC's contour
    margin would then call every image low-confidence. The smoothing runs on a window around
    the outline only, with the same result as over the whole image (`_outline_window`).
    """
    config = PreprocessConfig() if config is None else config
    array = np.asarray(probability)
    expected = config.network_shape(original_shape)
    if array.shape != expected:
        raise ValueError(
            f"probability shape {array.shape} is not the network shape {expected} "
            f"of an image of shape {tuple(original_shape[:2])}"
        )
    resized = scaled_shape(original_shape, scale=config.scale)
    pads = (expected[0] - resized[0], expected[1] - resized[1])
    # Probabilities under 1e-20 are raised to it: a confident fp32 softmax leaves subnormal
    # numbers far from the spheroid, and arithmetic on them (the resize and smoothing below)
    # ran 4-10x slower; no threshold or QC margin can tell 1e-20 from 0.
    low = np.maximum(unpad(array.astype(np.float32, copy=False), pads), _FLOOR)
    full = _resize_to(low, (int(original_shape[0]), int(original_shape[1])), cv2.INTER_LINEAR)
    if config.scale >= 1.0:
        return full
    # Which side of 0.5 a pixel is on: from the smoothed map (a smooth outline). How far
    # from 0.5: from the map itself (the network's certainty, which QC's contour margin
    # reads; smoothing alone would flatten every border and flag it low-confidence).
    # Pixels the smoothing moves across 0.5 are mirrored there (p -> 1 - p).
    window = _outline_window(low >= 0.5, full.shape, sigma=1.0 / config.scale)
    if window is None:
        return full  # all one side: smoothing moves nothing across 0.5
    part = full[window]
    smooth = cv2.GaussianBlur(part, (0, 0), sigmaX=1.0 / config.scale)
    cross = (smooth >= 0.5) != (part >= 0.5)
    mirrored = np.float32(1.0) - part[cross]
    mirrored[mirrored == 0.5] = np.nextafter(np.float32(0.5), np.float32(0.0))  # p was 0.5
    part[cross] = mirrored  # a view: writes into full
    return full


def _outline_window(
    low_side: np.ndarray, shape: tuple[int, int], *, sigma: float
) -> tuple[slice, slice] | None:
    """The part of the full-size map where a Gaussian of ``sigma`` can move a pixel across
    0.5, as slices; None when the map is all on one side.

    A weighted average of values on one side of 0.5 stays on it, so only a pixel whose
    kernel window holds both sides can cross. Bilinear enlargement puts both sides only
    between network pixels of both sides, so the box around the network's own changes of
    side, enlarged to full size, holds every change of side of the full map. Around that
    box, three kernel radii (plus slack for the enlargement's rounding) keep the blur of
    the window exact wherever it matters: a pixel whose kernel window leaves the window
    sees (possibly mirrored) values of its own side only, as in the whole image.
    """
    rows = np.flatnonzero(_changes(low_side, axis=0))
    cols = np.flatnonzero(_changes(low_side, axis=1))
    if rows.size == 0 and cols.size == 0:
        return None
    radius = math.ceil(sigma * 4.0) + 1  # cv2 blurs float images over about +-4 sigma
    margin = 3 * radius + 2
    out = []
    for axis, found in ((0, rows), (1, cols)):
        ratio = shape[axis] / low_side.shape[axis]  # full pixels per network pixel
        lo = math.floor((int(found.min()) - 1) * ratio) - margin
        hi = math.ceil((int(found.max()) + 2) * ratio) + margin
        out.append(slice(max(lo, 0), min(hi, shape[axis])))
    return out[0], out[1]


def _changes(side: np.ndarray, *, axis: int) -> np.ndarray:
    """Per row (``axis=0``) or column (``axis=1``): does any pixel of it differ from a
    4-neighbour?"""
    other = 1 - axis
    along = (np.diff(side, axis=axis) != 0).any(axis=other)  # between k and k + 1
    across = (np.diff(side, axis=other) != 0).any(axis=other)  # within k
    hit = across.copy()
    hit[:-1] |= along
    hit[1:] |= along
    return hit


def restore_mask(
    probability: npt.ArrayLike,
    *,
    original_shape: tuple[int, ...],
    config: PreprocessConfig | None = None,
    threshold: float = 0.5,
) -> npt.NDArray[np.bool_]:
    """Spheroid mask on the original grid: `restore_probability` >= ``threshold``.

    Parameters and shapes as in `restore_probability`; returns a (Y, X) bool mask.
    """
    restored = restore_probability(probability, original_shape=original_shape, config=config)
    return restored >= threshold
