"""Quality-control flags for one segmented image, storable as a small integer bit field.

Flags mark images a scientist should look at before trusting their measurement; none of
them changes the measurement itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from hts.measure.choose import ChoiceParams, SpheroidChoice, choose_spheroid
from hts.measure.morphometrics import Box, SpheroidMeasurement

__all__ = [
    "DOUBTFUL_BITS",
    "DOUBTFUL_FLAGS",
    "MOSTLY_FLAGGED",
    "QC_BITS",
    "QCFlags",
    "contour_margin",
    "count_flags",
    "flagged_warning",
    "focus_measure",
    "format_flag_counts",
    "qc_flags",
]

#: Bit of each flag in `QCFlags.to_bits`. Stored results depend on it: never renumber,
#: only append.
QC_BITS: dict[str, int] = {
    "no_object": 0,
    "multiple_objects": 1,
    "touches_border": 2,
    "low_confidence": 3,
    "out_of_focus": 4,
    "uncertain_choice": 5,
}


#: Flags that put an image's measurement in doubt (the endpoints leave such images out by
#: default): all but ``multiple_objects``, which notes a satellite or clump beside the
#: spheroid whose measurement stands.
DOUBTFUL_FLAGS: tuple[str, ...] = tuple(k for k in QC_BITS if k != "multiple_objects")
#: `DOUBTFUL_FLAGS` as bits of `QCFlags.to_bits`.
DOUBTFUL_BITS: int = sum(1 << QC_BITS[k] for k in DOUBTFUL_FLAGS)

#: Share of measured images carrying a doubtful flag above which summaries warn that the
#: model may not suit the images.
MOSTLY_FLAGGED = 0.5


def count_flags(bits: npt.ArrayLike) -> dict[str, int]:
    """Images carrying each flag, by name (`QC_BITS` order).

    Parameters
    ----------
    bits : array of int, any shape
        `QCFlags.to_bits` values, one per measured image.
    """
    b = np.asarray(bits).astype(np.int64)
    return {name: int(((b >> bit) & 1).sum()) for name, bit in QC_BITS.items()}


def format_flag_counts(counts: dict[str, int]) -> str:
    """``"touches_border 3, low_confidence 1"``: flags that occur, most frequent first."""
    found = sorted(((n, name) for name, n in counts.items() if n), key=lambda x: -x[0])
    return ", ".join(f"{name} {n}" for n, name in found) or "none"


def flagged_warning(
    n_doubtful: int, n_measured: int, *, share: float = MOSTLY_FLAGGED
) -> str | None:
    """The warning a summary gives when more than ``share`` of its measured images carry a
    flag of `DOUBTFUL_FLAGS` (None otherwise): then the measurements, not just a few
    images, are in doubt."""
    if n_measured == 0 or n_doubtful <= share * n_measured:
        return None
    return (
        f"most images were flagged by QC as doubtful ({n_doubtful} of {n_measured}): this "
        "model may not suit these images; check a few with `hts evaluate` or the report's "
        "montage (small spheroids or whole-well views: try --model unet+zoom)"
    )


@dataclass(frozen=True)
class QCFlags:
    """Quality-control flags of one image.

    Each flag has a fixed bit in `to_bits` (`QC_BITS`; stored results depend on it):

    ====================  ===  =====
    flag                  bit  value
    ====================  ===  =====
    ``no_object``         0    1
    ``multiple_objects``  1    2
    ``touches_border``    2    4
    ``low_confidence``    3    8
    ``out_of_focus``      4    16
    ``uncertain_choice``  5    32
    ====================  ===  =====

    Attributes
    ----------
    no_object : bool
        No spheroid was found.
    multiple_objects : bool
        More than one object was found (the image counts as ambiguous; the chosen one is
        measured).
    touches_border : bool
        The spheroid touches the image edge, so part of it may be cut off.
    low_confidence : bool
        The probability map is undecided along the spheroid's border.
    out_of_focus : bool
        The spheroid's border is blurred: the image is probably out of focus.
    uncertain_choice : bool
        Which object is the spheroid is uncertain: another object scores nearly as well,
        or the chosen one looks like a well wall (`hts.measure.choose.SpheroidChoice`).
    """

    no_object: bool = False
    multiple_objects: bool = False
    touches_border: bool = False
    low_confidence: bool = False
    out_of_focus: bool = False
    uncertain_choice: bool = False

    def to_bits(self) -> int:
        """The flags as an integer: the bit of each set flag (table above) is 1."""
        return sum(1 << bit for name, bit in QC_BITS.items() if getattr(self, name))

    @classmethod
    def from_bits(cls, bits: int) -> QCFlags:
        """Flags from an integer written by `to_bits`; unknown bits raise ValueError."""
        known = sum(1 << bit for bit in QC_BITS.values())
        if bits < 0 or bits & ~known:
            raise ValueError(f"not a QC bit field: {bits}")
        return cls(**{name: bool(bits >> bit & 1) for name, bit in QC_BITS.items()})

    @property
    def flagged(self) -> bool:
        """Whether any flag is set."""
        return self.to_bits() != 0


def _band(object_mask: npt.NDArray[np.bool_], *, band_px: int) -> npt.NDArray[np.bool_]:
    """Pixels within ``band_px`` of the object's border, on both sides."""
    size = 2 * band_px + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    binary = object_mask.view(np.uint8)
    outer = cv2.dilate(binary, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    inner = cv2.erode(binary, kernel, borderType=cv2.BORDER_REPLICATE)
    return (outer != 0) & (inner == 0)


#: Defaults of `focus_measure`: border band half-width and Gaussian sigma, in pixels.
_FOCUS_BAND_PX = 5
_FOCUS_SMOOTH_PX = 2.0


def _check_same_shape(what: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise ValueError(f"shapes differ: {what} {array.shape}, mask {shape}")


def _check_band(band_px: int) -> None:
    if band_px < 1:
        raise ValueError(f"band_px must be >= 1, got {band_px}")


def _cropped(object_mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], Box]:
    """A full-size object mask as its bounding-box crop and the box."""
    x, y, w, h = (int(v) for v in cv2.boundingRect(object_mask.view(np.uint8)))
    return object_mask[y : y + h, x : x + w], (x, y, w, h)


def _window(
    crop: npt.NDArray[np.bool_], box: Box, shape: tuple[int, ...], pad: int
) -> tuple[tuple[slice, slice], npt.NDArray[np.bool_]]:
    """The object's box grown by ``pad`` (clipped to ``shape``) and the object within it.

    Border kernels need only pixels within their reach of the object, so computing them on
    this window gives what the whole image gives, at the cost of the object's size.
    """
    x, y, w, h = box
    y0, x0 = max(0, y - pad), max(0, x - pad)
    rows = slice(y0, min(shape[0], y + h + pad))
    cols = slice(x0, min(shape[1], x + w + pad))
    inside = np.zeros((rows.stop - rows.start, cols.stop - cols.start), dtype=bool)
    inside[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = crop
    return (rows, cols), inside


def _margin(
    probability: npt.NDArray[np.float32], crop: npt.NDArray[np.bool_], box: Box, band_px: int
) -> float:
    where, inside = _window(crop, box, probability.shape, band_px + 1)
    band = _band(inside, band_px=band_px)
    if not band.any():
        return float("nan")
    return float(np.mean(np.abs(probability[where][band] - 0.5)) * 2.0)


def _percentiles(values: np.ndarray, q: tuple[float, float]) -> tuple[float, float]:
    """``np.percentile(values, q)`` (linear), from a histogram for 8/16-bit images.

    The same numbers: the two order statistics around each quantile come from the
    cumulative histogram instead of a partial sort (5-10x faster on 16-bit images), and
    are interpolated as numpy does.
    """
    if values.dtype not in (np.uint8, np.uint16) or values.size == 0:
        lo, hi = np.percentile(values, q)
        return float(lo), float(hi)
    counts = np.cumsum(np.bincount(values.ravel()))
    out = []
    for quantile in q:
        index = (values.size - 1) * (quantile / 100.0)
        below = math.floor(index)
        a, b = np.searchsorted(counts, [below, min(below + 1, values.size - 1)], side="right")
        t = index - below
        # numpy's _lerp: from the nearer end
        out.append(float(a + (b - a) * t) if t < 0.5 else float(b - (b - a) * (1.0 - t)))
    return out[0], out[1]


def _focus(
    image: np.ndarray,
    object_at: tuple[npt.NDArray[np.bool_], Box] | None,
    band_px: int,
    smooth_px: float,
) -> float:
    band: npt.NDArray[np.bool_] | None = None
    work = image
    if object_at is not None:
        # Reach of the band, the Gaussian (OpenCV's kernel radius is at most 4 sigma + 1)
        # and the Laplacian around the object.
        pad = band_px + math.ceil(4.0 * smooth_px) + 2
        where, inside = _window(*object_at, image.shape, pad)
        band = _band(inside, band_px=band_px)
        if not band.any():
            return float("nan")
        work = image[where]
    # Exposure from the whole image (every other pixel is plenty), detail near the object.
    lo, hi = _percentiles(image[::2, ::2], (0.5, 99.5))
    if hi <= lo:
        return 0.0
    normalised = work.astype(np.float32)
    normalised -= np.float32(lo)
    normalised *= np.float32(1.0 / (hi - lo))
    smooth = cv2.GaussianBlur(normalised, (0, 0), sigmaX=smooth_px)
    laplacian = cv2.Laplacian(smooth, cv2.CV_32F, ksize=1)
    return float(laplacian[band].var() if band is not None else laplacian.var())


def contour_margin(
    probability: npt.ArrayLike, object_mask: npt.ArrayLike, *, band_px: int = 3
) -> float:
    """Mean decision margin |p - 0.5| * 2 in a band around an object's border.

    Parameters
    ----------
    probability : (Y, X) float
        Spheroid probability in [0, 1].
    object_mask : (Y, X) bool
        The (filled) spheroid.
    band_px : int, optional
        Half-width of the band, in pixels of ``probability``.

    Returns
    -------
    float
        In [0, 1]: 1 for a crisp 0/1 map, near 0 when the map hovers at 0.5 along the
        border. NaN for an empty object.
    """
    p = np.asarray(probability, dtype=np.float32)
    obj = np.asarray(object_mask) != 0
    _check_same_shape("probability", p, obj.shape)
    _check_band(band_px)
    return _margin(p, *_cropped(obj), band_px)


def focus_measure(
    image: npt.ArrayLike,
    object_mask: npt.ArrayLike | None = None,
    *,
    band_px: int = _FOCUS_BAND_PX,
    smooth_px: float = _FOCUS_SMOOTH_PX,
) -> float:
    """Variance of the Laplacian of a normalised image: high when in focus.

    The image is rescaled between its 0.5th and 99.5th percentiles (so the measure does
    not depend on exposure or bit depth, and hot pixels do not matter) and smoothed
    with a Gaussian so sensor noise does not pass for detail. With an object mask the
    variance is taken in a band around the object's border: a spheroid's edge is the
    detail whose sharpness matters, and a mostly empty background says little about
    focus. The value depends on pixel size and optics; calibrate thresholds per setup.

    Parameters
    ----------
    image : (Y, X) array, any real dtype
        Brightfield image.
    object_mask : (Y, X) bool, optional
        The spheroid, on the grid of ``image``; without it the whole image is used.
    band_px : int, optional
        Half-width of the border band, in pixels.
    smooth_px : float, optional
        Standard deviation of the Gaussian applied first, in pixels.

    Returns
    -------
    float
        >= 0 (in 1 / px^4 of the normalised image); 0 for a constant image, NaN for an
        empty object mask.
    """
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {array.shape}")
    object_at: tuple[npt.NDArray[np.bool_], Box] | None = None
    if object_mask is not None:
        obj = np.asarray(object_mask) != 0
        _check_same_shape("image", array, obj.shape)
        object_at = _cropped(obj)
    return _focus(array, object_at, band_px, smooth_px)


def qc_flags(
    probability: npt.ArrayLike,
    mask: npt.ArrayLike,
    measurement: SpheroidMeasurement,
    image: npt.ArrayLike | None = None,
    *,
    min_margin: float = 0.5,
    band_px: int = 3,
    min_focus: float = 1e-4,
    choice: SpheroidChoice | None = None,
) -> QCFlags:
    """Quality-control flags of one segmented image.

    ``low_confidence`` and ``out_of_focus`` concern the spheroid's border, so they are
    only assessed when a spheroid was found (otherwise ``no_object`` says enough).

    Parameters
    ----------
    probability : (Y, X) float
        Spheroid probability in [0, 1] (a 0/1 map for the classical segmenter).
    mask : (Y, X) bool
        The thresholded mask ``measurement`` was taken from.
    measurement : SpheroidMeasurement
        The chosen object's measurement (``measure_object(choice.spheroid, ...)``, or
        ``measure_mask(mask, ...)`` for the largest object); gives no_object,
        multiple_objects, touches_border.
    image : (Y, X) array, optional
        The original image, on the grid of ``mask``; without it ``out_of_focus`` is not
        assessed (False).
    min_margin : float, optional
        ``low_confidence`` when `contour_margin` along the spheroid's border is below
        this (0: never; 1: unless the map is crisp).
    band_px : int, optional
        Half-width of the border band for `contour_margin`, in pixels of ``probability``.
    min_focus : float, optional
        ``out_of_focus`` when `focus_measure` of ``image`` around the spheroid's border is
        below this. The default separates sharp from clearly defocused (Gaussian blur of
        6 px or more) synthetic 1300 x 1030 images; calibrate it with `focus_measure` on
        a few images of each setup.
    choice : SpheroidChoice, optional
        ``choose_spheroid(mask, probability, params=...)``, the choice ``measurement``
        was taken from; gives uncertain_choice. Without it the largest object is taken
        (``ChoiceParams(rule="largest")``, as `measure_mask` does).

    Returns
    -------
    QCFlags
    """
    low_confidence = False
    out_of_focus = False
    if measurement.found:
        if choice is None:
            choice = choose_spheroid(mask, probability, params=ChoiceParams(rule="largest"))
        found = choice.spheroid
        if found.contour is None:
            raise ValueError("choice holds no object, but the measurement found one")
        p = np.asarray(probability, dtype=np.float32)
        _check_same_shape("probability", p, found.shape)
        _check_band(band_px)
        low_confidence = bool(_margin(p, found.crop, found.box, band_px) < min_margin)
        if image is not None:
            array = np.asarray(image)
            _check_same_shape("image", array, found.shape)
            focus = _focus(array, (found.crop, found.box), _FOCUS_BAND_PX, _FOCUS_SMOOTH_PX)
            out_of_focus = bool(focus < min_focus)
    return QCFlags(
        no_object=not measurement.found,
        multiple_objects=measurement.n_objects > 1,
        touches_border=measurement.touches_border,
        low_confidence=low_confidence,
        out_of_focus=out_of_focus,
        uncertain_choice=choice is not None and choice.uncertain,
    )
