"""The ``classical`` baseline segmenter: the spheroid is the largest dark compact object.

No learning: smooth, divide out a smooth illumination surface, threshold the dark side
with Otsu's method, clean up morphologically, keep the largest filled object. It works
on clean (untreated) images and is expected to fail where dark debris surrounds or
hides the spheroid; that failure is what the paper's networks fix, and this segmenter
is kept as the named baseline to measure them against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from hts.measure.morphometrics import largest_object

__all__ = ["ClassicalConfig", "dark_mask", "otsu_threshold", "segment_classical"]

# Long side of the coarse image the illumination surface is fitted on, in pixels.
_COARSE_SIDE_PX = 128
# Iterations of the robust (dark-pixel-excluding) surface fit.
_FIT_ITERATIONS = 6


@dataclass(frozen=True)
class ClassicalConfig:
    """Parameters of `segment_classical`; lengths in micrometres, converted with the
    pixel size so results do not depend on the microscope's sampling.

    Attributes
    ----------
    smooth_sigma_um : float
        Standard deviation of the Gaussian applied before thresholding (noise, texture).
    opening_radius_um : float
        Radius of the disk for morphological opening: removes dark specks and single
        dead cells (about 10-15 um across) narrower than twice this.
    closing_radius_um : float
        Radius of the disk for morphological closing: bridges gaps in the spheroid rim.
    background_degree : int
        Degree of the 2-D polynomial fitted as the illumination surface.
    min_contrast_sigmas : float
        A pixel is dark only if it lies at least this many robust standard deviations of
        the background below the background level, whatever Otsu's threshold; this keeps
        an image without a spheroid from being split at its noise.
    min_diameter_um : float
        Objects whose equivalent-circle diameter is smaller are not spheroids (a few
        cells at most) and are discarded.
    """

    smooth_sigma_um: float = 2.0
    opening_radius_um: float = 6.0
    closing_radius_um: float = 10.0
    background_degree: int = 2
    min_contrast_sigmas: float = 5.0
    min_diameter_um: float = 25.0


def otsu_threshold(values: npt.ArrayLike, *, bins: int = 256) -> float:
    """Otsu's threshold of a set of values (maximal between-class variance).

    Parameters
    ----------
    values : array, any shape, real dtype
        Finite samples.
    bins : int, optional
        Histogram bins between the smallest and largest value.

    Returns
    -------
    float
        Threshold t in the units of ``values``: the classes are ``< t`` and ``>= t``.
        Where several bin edges split the histogram equally well (empty bins between
        two modes), the middle of that gap. The smallest value when all are equal.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(data.min()), float(data.max())
    if hi == lo:
        return lo
    counts, edges = np.histogram(data, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)[:-1].astype(np.float64)
    weight_high = data.size - weight_low
    sum_low = np.cumsum(counts * centres)[:-1]
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] + counts[-1] * centres[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    # Empty bins between two modes give a plateau of equal scores: take its middle, not
    # the edge of the lower mode.
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    gaps = np.flatnonzero(np.diff(best) > 1)
    run_end = best[gaps[0]] if gaps.size else best[-1]
    return float((edges[1 + best[0]] + edges[1 + run_end]) / 2)


def _polynomial_terms(shape: tuple[int, int], degree: int) -> np.ndarray:
    """(Y*X, n_terms) monomials y^i x^j, i + j <= degree, on coordinates in [-1, 1]."""
    y, x = np.meshgrid(
        np.linspace(-1.0, 1.0, shape[0]), np.linspace(-1.0, 1.0, shape[1]), indexing="ij"
    )
    terms = [y**i * x**j for i in range(degree + 1) for j in range(degree + 1 - i)]
    return np.stack([t.ravel() for t in terms], axis=1)


def _illumination(coarse: np.ndarray, degree: int) -> np.ndarray:
    """Robust polynomial fit, (Yc, Xc) float64, of the bright background of a coarse image.

    The first fit uses the brighter half of the pixels (a spheroid is dark, and may cover
    a third of the field); later fits use every pixel not darker than the fit by more
    than three robust standard deviations.
    """
    terms = _polynomial_terms(coarse.shape, degree)
    values = coarse.ravel().astype(np.float64)
    keep = values >= np.median(values)
    surface = np.full(values.shape, float(np.median(values)))
    for _ in range(_FIT_ITERATIONS):
        # Normal equations: a few well-scaled terms on [-1, 1], so conditioning is fine and
        # this is much cheaper than lstsq of the whole design matrix; lstsq of the small
        # system still copes with a singular one (tiny or flat images).
        kept = terms[keep]
        coef, *_ = np.linalg.lstsq(kept.T @ kept, kept.T @ values[keep], rcond=None)
        surface = terms @ coef
        residual = values - surface
        sigma = 1.4826 * float(np.median(np.abs(residual[keep])))
        if sigma == 0:
            break
        # One-sided: only dark outliers are foreground; bright ones (halo) stay.
        keep_next = residual > -3.0 * sigma
        if keep_next.sum() < terms.shape[1] * 4 or np.array_equal(keep_next, keep):
            break
        keep = keep_next
    return surface.reshape(coarse.shape)


def _disk(radius_px: float) -> np.ndarray:
    size = 2 * max(1, round(radius_px)) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def dark_mask(
    image: npt.ArrayLike,
    *,
    pixel_size_um: float,
    config: ClassicalConfig | None = None,
) -> npt.NDArray[np.bool_]:
    """Pixels clearly darker than the illumination-corrected background, cleaned up.

    Smooth, divide out the illumination surface, threshold the dark side with Otsu's
    method (never closer to the background than its noise allows), then open and close
    morphologically. `segment_classical` keeps the largest filled object of this map;
    `hts.segment.outline` uses it to place a network's outline. Parameters as
    `segment_classical`'s.

    Returns
    -------
    (Y, X) bool
        All False for a flat image.
    """
    if not (pixel_size_um > 0 and math.isfinite(pixel_size_um)):
        raise ValueError(f"pixel_size_um must be a positive number, got {pixel_size_um}")
    config = ClassicalConfig() if config is None else config
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {array.shape}")
    work = array.astype(np.float32)
    lo = float(work.min())
    if float(work.max()) == lo:
        return np.zeros(array.shape, dtype=bool)
    # Taking off the darkest value (about the camera offset) makes the ratio below close
    # to a transmittance; the +1 keeps it finite.
    work -= lo - 1.0

    sigma_px = config.smooth_sigma_um / pixel_size_um
    smooth = cv2.GaussianBlur(work, (0, 0), sigmaX=sigma_px, sigmaY=sigma_px)

    factor = max(1.0, max(array.shape) / _COARSE_SIDE_PX)
    coarse_shape = (max(2, round(array.shape[0] / factor)), max(2, round(array.shape[1] / factor)))
    coarse = cv2.resize(smooth, coarse_shape[::-1], interpolation=cv2.INTER_AREA)
    surface = _illumination(coarse, config.background_degree)
    surface = np.maximum(surface, 1e-3 * float(surface.max()))
    # Illumination is multiplicative: the ratio puts the background at 1 everywhere.
    background = cv2.resize(
        surface.astype(np.float32), array.shape[::-1], interpolation=cv2.INTER_LINEAR
    )
    flat = smooth / background

    # Noise floor: the background sits at 1 in `flat`; pixels above 1 are background
    # only (the spheroid is dark), so their half-normal spread gives the noise without
    # being inflated by a large spheroid.
    sample = flat[::2, ::2]
    above = sample[sample > 1.0] - 1.0
    noise = 1.4826 * float(np.median(above)) if above.size else 0.0
    threshold = min(otsu_threshold(sample), 1.0 - config.min_contrast_sigmas * noise)
    dark = (flat < threshold).astype(np.uint8)

    dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, _disk(config.opening_radius_um / pixel_size_um))
    dark = cv2.morphologyEx(dark, cv2.MORPH_CLOSE, _disk(config.closing_radius_um / pixel_size_um))
    return dark.astype(bool)


def segment_classical(
    image: npt.ArrayLike,
    *,
    pixel_size_um: float,
    config: ClassicalConfig | None = None,
) -> npt.NDArray[np.float32]:
    """Segment the spheroid as the largest dark compact object (classical baseline).

    Parameters
    ----------
    image : (Y, X) array, uint8 or uint16 (any real dtype works)
        Brightfield image: dark spheroid on a brighter, possibly unevenly lit background.
    pixel_size_um : float
        Edge length of a pixel, in micrometres; kernel sizes scale with it.
    config : ClassicalConfig, optional
        Defaults to ``ClassicalConfig()``.

    Returns
    -------
    (Y, X) float32
        0/1 "probability" map of the filled largest object (all 0 when none is found),
        with the same interface as a network's output: threshold at 0.5.
    """
    config = ClassicalConfig() if config is None else config
    dark = dark_mask(image, pixel_size_um=pixel_size_um, config=config)
    min_area_px = math.pi / 4 * (config.min_diameter_um / pixel_size_um) ** 2
    spheroid, _ = largest_object(dark, min_area_px=max(1, math.ceil(min_area_px)))
    return spheroid.astype(np.float32)
