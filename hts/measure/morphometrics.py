"""Spheroid morphometrics from a binary mask: area, perimeter, diameter, volume, circularity.

The spheroid is the largest object found by Suzuki-Abe border following
(``cv2.findContours`` with ``RETR_EXTERNAL``), filled inside its outer border, as in
Streller et al. (GigaScience 2025). Lengths are converted to micrometres with an
explicit ``pixel_size_um``; nothing here assumes a microscope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MIN_AREA_PX",
    "SpheroidMeasurement",
    "largest_object",
    "measure_mask",
]

#: Objects with fewer pixels than this are ignored as specks: they are not counted in
#: ``n_objects`` and never chosen as the spheroid. Four pixels is the smallest object
#: whose contour encloses any area, so single noisy pixels never make an image ambiguous.
DEFAULT_MIN_AREA_PX = 4

BoolImage = npt.NDArray[np.bool_]
Contour = npt.NDArray[np.int32]


@dataclass(frozen=True)
class SpheroidMeasurement:
    """Morphometrics of the spheroid (the largest object) in one mask.

    Attributes
    ----------
    area_um2 : float
        Area A, pixel count of the filled object times the pixel area, in um^2.
    perimeter_um : float
        Perimeter L, length of the closed outer contour polygon (through boundary pixel
        centres), in um.
    diameter_um : float
        Equivalent-circle diameter d = sqrt(4 A / pi), in um.
    volume_um3 : float
        Sphere volume V = pi d^3 / 6, in um^3.
    circularity : float
        C = 4 pi A / L^2, dimensionless, clipped to at most 1.
    centroid_y_px, centroid_x_px : float
        Centroid of the filled object, in pixels (row, column) of the input mask.
    n_objects : int
        Number of objects of at least ``min_area_px`` pixels; more than one makes the
        image ambiguous (ASF). Zero means no spheroid was found.
    touches_border : bool
        Whether the object has a pixel in the first or last row or column.
    """

    area_um2: float
    perimeter_um: float
    diameter_um: float
    volume_um3: float
    circularity: float
    centroid_y_px: float
    centroid_x_px: float
    n_objects: int
    touches_border: bool

    @classmethod
    def no_object(cls) -> SpheroidMeasurement:
        """Measurement of a mask without a spheroid: NaN values, ``n_objects == 0``."""
        nan = math.nan
        return cls(nan, nan, nan, nan, nan, nan, nan, n_objects=0, touches_border=False)

    @property
    def found(self) -> bool:
        """Whether a spheroid was found (``n_objects > 0``)."""
        return self.n_objects > 0


def _outer_contours(mask: npt.ArrayLike) -> tuple[np.ndarray, tuple[Contour, ...]]:
    """Validated (Y, X) uint8 copy of a mask and its outer contours (Suzuki-Abe)."""
    image = np.asarray(mask)
    if image.ndim != 2:
        raise ValueError(f"mask must be 2-D (Y, X), got shape {image.shape}")
    binary = (image != 0).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return binary, tuple(contours)


def _largest(mask: npt.ArrayLike, *, min_area_px: int) -> tuple[BoolImage, Contour | None, int]:
    """Filled largest object, its outer contour (or None) and the number of objects."""
    if min_area_px < 1:
        raise ValueError(f"min_area_px must be >= 1, got {min_area_px}")
    binary, contours = _outer_contours(mask)
    filled = np.zeros(binary.shape, dtype=bool)
    if not contours:
        return filled, None, 0
    labels = np.zeros(binary.shape, dtype=np.int32)
    candidates: list[int] = []
    for index, contour in enumerate(contours):
        # Pick's theorem bounds the filled pixel count by the polygon area plus the number
        # of boundary points (+1); skipping specks below that bound saves a fill each.
        if cv2.contourArea(contour) + len(contour) + 1 < min_area_px:
            continue
        candidates.append(index)
        cv2.drawContours(labels, contours, index, len(candidates), thickness=cv2.FILLED)
    if not candidates:
        return filled, None, 0
    counts = np.bincount(labels.ravel(), minlength=len(candidates) + 1)[1:]
    kept = np.flatnonzero(counts >= min_area_px)
    if kept.size == 0:
        return filled, None, 0
    # argmax takes the first maximum, so ties are broken deterministically.
    best = int(kept[np.argmax(counts[kept])])
    filled = labels == best + 1
    return filled, contours[candidates[best]], int(kept.size)


def largest_object(
    mask: npt.ArrayLike, *, min_area_px: int = DEFAULT_MIN_AREA_PX
) -> tuple[BoolImage, int]:
    """Keep the largest object of a mask, filled inside its outer border.

    Objects are the regions inside outer contours found by Suzuki-Abe border following
    (8-connected foreground); holes, and anything inside them, belong to the object.

    Parameters
    ----------
    mask : (Y, X) array, bool or any numeric dtype
        Non-zero pixels are foreground.
    min_area_px : int, optional
        Objects with fewer filled pixels are ignored (neither counted nor kept).

    Returns
    -------
    object_mask : (Y, X) bool
        The filled largest object; all False when there is none. Ties in area are
        broken deterministically (OpenCV's contour order).
    n_objects : int
        Number of objects of at least ``min_area_px`` pixels.
    """
    filled, _, n_objects = _largest(mask, min_area_px=min_area_px)
    return filled, n_objects


def _touches_border(filled: BoolImage) -> bool:
    return bool(filled[0].any() or filled[-1].any() or filled[:, 0].any() or filled[:, -1].any())


def measure_mask(
    mask: npt.ArrayLike, *, pixel_size_um: float, min_area_px: int = DEFAULT_MIN_AREA_PX
) -> SpheroidMeasurement:
    """Measure the spheroid (largest filled object) of a binary mask.

    The diameter is the equivalent-circle diameter sqrt(4 A / pi), the paper's "average
    diameter": it depends on the area only, so it is robust to ragged borders, and the
    sphere volume pi d^3 / 6 follows from it.

    The perimeter is the length of the closed polygon through the boundary pixel centres
    (``cv2.arcLength``). On a pixel grid this is biased: the polygon runs half a pixel
    inside the pixel area, and 8-connected steps overestimate oblique boundaries by ~5 %.
    A digitised disk therefore has C of about 0.9 rather than 1, while tiny objects can
    exceed 1; C is clipped to 1. Compare circularities only between masks of similar
    resolution (as RCD does). C is NaN when L = 0 (a single pixel, only possible with
    ``min_area_px=1``).

    Parameters
    ----------
    mask : (Y, X) array, bool or any numeric dtype
        Non-zero pixels are foreground.
    pixel_size_um : float
        Edge length of a (square) pixel, in micrometres.
    min_area_px : int, optional
        Objects with fewer pixels are ignored; see `largest_object`.

    Returns
    -------
    SpheroidMeasurement
        ``SpheroidMeasurement.no_object()`` when the mask holds no object.
    """
    if not (pixel_size_um > 0 and math.isfinite(pixel_size_um)):
        raise ValueError(f"pixel_size_um must be a positive number, got {pixel_size_um}")
    filled, contour, n_objects = _largest(mask, min_area_px=min_area_px)
    if contour is None:
        return SpheroidMeasurement.no_object()
    area_px = int(np.count_nonzero(filled))
    perimeter_px = float(cv2.arcLength(contour, closed=True))
    circularity = (
        min(1.0, 4.0 * math.pi * area_px / perimeter_px**2) if perimeter_px > 0 else math.nan
    )
    moments = cv2.moments(filled.view(np.uint8), binaryImage=True)
    area_um2 = area_px * pixel_size_um**2
    diameter_um = math.sqrt(4.0 * area_um2 / math.pi)
    return SpheroidMeasurement(
        area_um2=area_um2,
        perimeter_um=perimeter_px * pixel_size_um,
        diameter_um=diameter_um,
        volume_um3=math.pi * diameter_um**3 / 6.0,
        circularity=circularity,
        centroid_y_px=moments["m01"] / moments["m00"],
        centroid_x_px=moments["m10"] / moments["m00"],
        n_objects=n_objects,
        touches_border=_touches_border(filled),
    )
