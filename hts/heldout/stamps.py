"""Stamping many copies of a few small shapes (cells, granules, fragments) into an image.

Thousands of cells are drawn without a Python loop per cell: the points that share a shape
are splatted (bilinearly, so positions are sub-pixel) into an impulse image, which is then
filtered once with that shape's kernel. Kernels are sampled at four times the pixel density
and averaged down, so that shapes of two or three pixels are anti-aliased.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["elliptic_radius", "sample_kernel", "splat", "stamp", "stamp_footprints"]

FloatImage = npt.NDArray[np.float32]
Profile = Callable[[npt.NDArray[np.float32], npt.NDArray[np.float32]], npt.NDArray[np.float32]]


def elliptic_radius(
    dy: npt.NDArray[np.float32],
    dx: npt.NDArray[np.float32],
    *,
    semi_axes: tuple[float, float],
    angle: float,
) -> npt.NDArray[np.float32]:
    """Normalised radius of offsets ``(dy, dx)`` in an ellipse: 1 on its edge.

    Parameters
    ----------
    dy, dx : float32 arrays (pixels)
        Offsets from the ellipse centre.
    semi_axes : (a, b)
        Semi-axes in pixels along the rotated x and y directions.
    angle : float
        Rotation of the first axis from the image x axis, radians.
    """
    c, s = np.cos(angle), np.sin(angle)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    return np.sqrt((u / semi_axes[0]) ** 2 + (v / semi_axes[1]) ** 2).astype(np.float32)


def sample_kernel(profile: Profile, radius_px: float, *, factor: int = 4) -> FloatImage:
    """A square, odd-sized kernel of ``profile(dy, dx)`` averaged over sub-pixel samples.

    Parameters
    ----------
    profile : callable
        Maps float32 offset arrays (pixels from the kernel centre) to values.
    radius_px : float
        The kernel reaches this far from its centre (it is ``2 * ceil(radius_px) + 1`` wide).
    factor : int
        Sub-samples per pixel along each axis.

    Returns
    -------
    (K, K) float32
    """
    half = int(np.ceil(radius_px))
    size = 2 * half + 1
    fine = ((np.arange(size * factor) + 0.5) / factor - (half + 0.5)).astype(np.float32)
    values = profile(fine[:, None], fine[None, :]).astype(np.float32)
    return np.asarray(values.reshape(size, factor, size, factor).mean(axis=(1, 3)), np.float32)


def splat(
    shape: tuple[int, int],
    ys: npt.ArrayLike,
    xs: npt.ArrayLike,
    weights: npt.ArrayLike,
) -> FloatImage:
    """Impulse image: each point's weight spread bilinearly over its four nearest pixels.

    Parameters
    ----------
    shape : (Y, X)
    ys, xs : (N,) float arrays (pixels)
    weights : (N,) float array

    Returns
    -------
    (Y, X) float32
    """
    ys, xs = np.asarray(ys, np.float64), np.asarray(xs, np.float64)
    w = np.broadcast_to(np.asarray(weights, np.float64), ys.shape)
    out = np.zeros(shape, np.float64)
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    fy, fx = ys - y0, xs - x0
    for oy, ox, part in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        yy, xx = y0 + oy, x0 + ox
        ok = (yy >= 0) & (yy < shape[0]) & (xx >= 0) & (xx < shape[1])
        np.add.at(out, (yy[ok], xx[ok]), (w * part)[ok])
    return out.astype(np.float32)


def _filter(impulses: FloatImage, kernel: FloatImage) -> FloatImage:
    # filter2D correlates; flipping the kernel makes each impulse leave an upright copy.
    flipped = cv2.flip(kernel, -1)
    return np.asarray(
        cv2.filter2D(impulses, cv2.CV_32F, flipped, borderType=cv2.BORDER_CONSTANT), np.float32
    )


def stamp(
    shape: tuple[int, int],
    ys: npt.ArrayLike,
    xs: npt.ArrayLike,
    weights: npt.ArrayLike,
    kinds: npt.ArrayLike,
    kernels: Sequence[FloatImage],
) -> FloatImage:
    """Sum of ``weights[i] * kernels[kinds[i]]`` centred on ``(ys[i], xs[i])``.

    Parameters
    ----------
    shape : (Y, X)
    ys, xs, weights : (N,) float arrays (pixels; any unit for the weights)
    kinds : (N,) int array
        Index of each point's kernel.
    kernels : sequence of (K, K) float32, K odd

    Returns
    -------
    (Y, X) float32
    """
    ys, xs = np.asarray(ys, np.float64), np.asarray(xs, np.float64)
    kinds = np.asarray(kinds, np.int64)
    w = np.broadcast_to(np.asarray(weights, np.float64), ys.shape)
    out = np.zeros(shape, np.float32)
    for k, kernel in enumerate(kernels):
        pick = kinds == k
        if pick.any():
            out += _filter(splat(shape, ys[pick], xs[pick], w[pick]), kernel)
    return out


def stamp_footprints(
    shape: tuple[int, int],
    ys: npt.ArrayLike,
    xs: npt.ArrayLike,
    kinds: npt.ArrayLike,
    footprints: Sequence[npt.NDArray[np.bool_]],
) -> npt.NDArray[np.bool_]:
    """Union of binary ``footprints[kinds[i]]`` centred on the pixel nearest each point.

    Parameters
    ----------
    shape : (Y, X)
    ys, xs : (N,) float arrays (pixels)
    kinds : (N,) int array
    footprints : sequence of (K, K) bool, K odd

    Returns
    -------
    (Y, X) bool
    """
    ys = np.rint(np.asarray(ys, np.float64))
    xs = np.rint(np.asarray(xs, np.float64))
    kinds = np.asarray(kinds, np.int64)
    out = np.zeros(shape, bool)
    for k, foot in enumerate(footprints):
        pick = kinds == k
        if pick.any():
            hits = splat(shape, ys[pick], xs[pick], 1.0)
            out |= _filter(hits, foot.astype(np.float32)) > 0.5
    return out
