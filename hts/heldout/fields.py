"""Random fields and distance maps on the pixel grid, shared by every part of a held-out scene.

Everything here is a pure function of its arguments: arrays in, arrays out, randomness only
from the ``np.random.Generator`` passed in. Coordinates are ``(y, x)`` in pixels, with pixel
centres at integer positions.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "Window",
    "fill_holes",
    "largest_component",
    "paste_add",
    "paste_or",
    "radial_distance",
    "signed_distance",
    "smooth_noise",
]

FloatImage = npt.NDArray[np.float32]
BoolImage = npt.NDArray[np.bool_]


def smooth_noise(
    shape: tuple[int, int], rng: np.random.Generator, *, scale_px: float
) -> FloatImage:
    """Gaussian random field with zero mean and unit standard deviation.

    Parameters
    ----------
    shape : (Y, X)
        Output shape in pixels.
    rng : np.random.Generator
        Source of randomness.
    scale_px : float
        Correlation length in pixels (the spacing of the coarse lattice that is interpolated).

    Returns
    -------
    (Y, X) float32
    """
    h, w = shape
    step = max(float(scale_px), 1.0)
    s = max(1, round(step))
    gy, gx = int(np.ceil(h / step)) + 4, int(np.ceil(w / step)) + 4
    coarse = rng.standard_normal((gy, gx)).astype(np.float32)
    big = cv2.resize(coarse, (round(gx * step), round(gy * step)), interpolation=cv2.INTER_CUBIC)
    oy, ox = s + int(rng.integers(0, s)), s + int(rng.integers(0, s))
    field = big[oy : oy + h, ox : ox + w]
    field = field - float(field.mean())
    sd = float(field.std())
    return np.ascontiguousarray(field / sd if sd > 0 else field, dtype=np.float32)


def signed_distance(mask: npt.ArrayLike) -> FloatImage:
    """Euclidean distance to the mask's edge in pixels: positive inside, negative outside.

    Parameters
    ----------
    mask : (Y, X) bool

    Returns
    -------
    (Y, X) float32
        About +0.5 on the innermost ring of mask pixels and -0.5 just outside it.
    """
    m = np.asarray(mask, dtype=bool).astype(np.uint8)
    inside = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5)
    return (inside - outside - np.where(m > 0, 0.5, -0.5)).astype(np.float32)


def fill_holes(mask: npt.ArrayLike) -> BoolImage:
    """The mask with every background region that does not touch the border filled in."""
    m = np.asarray(mask, dtype=bool).astype(np.uint8)
    padded = np.pad(m, 1)
    flood = padded.copy()
    ffmask = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(flood, ffmask, (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return np.asarray(m.astype(bool) | holes)


def largest_component(mask: npt.ArrayLike) -> BoolImage:
    """The largest 8-connected component of a mask (all False for an empty mask)."""
    m = np.asarray(mask, dtype=bool).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros(m.shape, dtype=bool)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.asarray(labels == best)


def radial_distance(
    shape: tuple[int, int], centre: tuple[float, float], *, scale: tuple[float, float] = (1, 1)
) -> FloatImage:
    """Distance of every pixel from ``centre`` (y, x), with the axes divided by ``scale``."""
    yy = (np.arange(shape[0], dtype=np.float32) - centre[0]) / scale[0]
    xx = (np.arange(shape[1], dtype=np.float32) - centre[1]) / scale[1]
    return np.sqrt(yy[:, None] ** 2 + xx[None, :] ** 2).astype(np.float32)


class Window:
    """Where a local canvas of shape ``local`` lands in an image of shape ``full``.

    ``top_left`` (y, x) may be negative or run past the image: only the overlap is used.
    """

    def __init__(
        self, full: tuple[int, int], local: tuple[int, int], top_left: tuple[int, int]
    ) -> None:
        y0, x0 = top_left
        self.dst = (
            slice(max(y0, 0), min(y0 + local[0], full[0])),
            slice(max(x0, 0), min(x0 + local[1], full[1])),
        )
        self.src = (
            slice(self.dst[0].start - y0, self.dst[0].stop - y0),
            slice(self.dst[1].start - x0, self.dst[1].stop - x0),
        )

    @property
    def empty(self) -> bool:
        """True when the local canvas lies wholly outside the image."""
        return self.dst[0].stop <= self.dst[0].start or self.dst[1].stop <= self.dst[1].start


def paste_add(target: FloatImage, local: FloatImage, top_left: tuple[int, int]) -> FloatImage:
    """``target`` with ``local`` added at ``top_left`` (y, x), clipped to the image; a new array."""
    out = target.copy()
    win = Window(out.shape[:2], local.shape[:2], top_left)
    if not win.empty:
        out[win.dst] += local[win.src]
    return out


def paste_or(target: BoolImage, local: BoolImage, top_left: tuple[int, int]) -> BoolImage:
    """``target`` or'ed with ``local`` placed at ``top_left`` (y, x), clipped; a new array."""
    out = target.copy()
    win = Window(out.shape[:2], local.shape[:2], top_left)
    if not win.empty:
        out[win.dst] |= local[win.src]
    return out
