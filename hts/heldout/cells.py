"""Cells as refractive blobs, and how they pack into a region.

A cell in brightfield is a small lens: its body absorbs and scatters a little (a slightly
darker centre, sometimes a darker nucleus) and its edge refracts light into a bright ring.
Cells are drawn as absorbance (optical density, natural log units): positive darkens,
negative brightens. A handful of cell looks (size, elongation, orientation, ring strength)
is drawn per scene and every cell takes one of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hts.heldout.stamps import elliptic_radius, sample_kernel, stamp, stamp_footprints

__all__ = [
    "CellLook",
    "CellSet",
    "cell_looks",
    "jittered_lattice",
    "render_cells",
    "render_footprints",
]

FloatImage = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class CellLook:
    """One way a cell can look; many cells share it.

    Attributes
    ----------
    radius_px : float
        Semi-major axis, pixels.
    kernel : (K, K) float32
        Absorbance profile of the cell at unit weight (centre about 1, ring negative).
    footprint : (K, K) bool
        Pixels covered by the cell body.
    """

    radius_px: float
    kernel: FloatImage
    footprint: npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class CellSet:
    """Cells placed on a canvas.

    Attributes
    ----------
    ys, xs : (N,) float64
        Cell centres, pixels.
    weights : (N,) float64
        Absorbance at the cell centre (natural log units).
    kinds : (N,) int64
        Index of each cell's look.
    """

    ys: npt.NDArray[np.float64]
    xs: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    kinds: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ys.size)

    def select(self, keep: npt.NDArray[np.bool_]) -> CellSet:
        """The cells where ``keep`` is True."""
        return CellSet(self.ys[keep], self.xs[keep], self.weights[keep], self.kinds[keep])

    @staticmethod
    def join(*sets: CellSet) -> CellSet:
        """All cells of several sets in one."""
        return CellSet(
            np.concatenate([s.ys for s in sets]),
            np.concatenate([s.xs for s in sets]),
            np.concatenate([s.weights for s in sets]),
            np.concatenate([s.kinds for s in sets]),
        )


def _look(rng: np.random.Generator, radius: float) -> CellLook:
    aspect = float(rng.uniform(0.7, 1.0))
    angle = float(rng.uniform(0, math.pi))
    ring = float(rng.uniform(0.35, 1.1))
    ring_width = float(rng.uniform(0.12, 0.25))
    nucleus = float(rng.uniform(0.0, 0.6))
    ny, nx = (float(v) for v in rng.uniform(-0.25, 0.25, 2) * radius)
    axes = (radius, radius * aspect)

    def profile(dy: npt.NDArray[np.float32], dx: npt.NDArray[np.float32]) -> FloatImage:
        r = elliptic_radius(dy, dx, semi_axes=axes, angle=angle)
        body = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
        edge = np.exp(-(((r - 1.0) / ring_width) ** 2))
        rn = np.hypot(dy - ny, dx - nx) / (0.38 * radius)
        return np.asarray(body - ring * edge + nucleus * np.exp(-(rn**2)), np.float32)

    reach = radius * (1.0 + 3.0 * ring_width) + 1.0
    kernel = sample_kernel(profile, reach)
    foot = sample_kernel(
        lambda dy, dx: (elliptic_radius(dy, dx, semi_axes=axes, angle=angle) <= 1.0).astype(
            np.float32
        ),
        reach,
    )
    return CellLook(radius, kernel, foot >= 0.5)


def cell_looks(
    rng: np.random.Generator, *, cell_px: float, n: int = 10, spread: float = 0.15
) -> tuple[CellLook, ...]:
    """Draw ``n`` cell looks around a mean diameter.

    Parameters
    ----------
    rng : np.random.Generator
    cell_px : float
        Mean cell diameter, pixels.
    n : int
        Number of looks.
    spread : float
        Standard deviation of log diameter.

    Returns
    -------
    tuple of CellLook, sorted by size (small first)
    """
    radii = sorted(max(0.7, 0.5 * cell_px * float(np.exp(rng.normal(0, spread)))) for _ in range(n))
    return tuple(_look(rng, r) for r in radii)


def jittered_lattice(
    box: tuple[float, float, float, float],
    spacing_px: float,
    rng: np.random.Generator,
    *,
    jitter: float = 0.3,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Points of a randomly rotated hexagonal lattice with jitter, covering a box.

    Parameters
    ----------
    box : (y0, x0, y1, x1)
        Region to cover, pixels.
    spacing_px : float
        Distance between lattice neighbours, pixels.
    rng : np.random.Generator
    jitter : float
        Standard deviation of each point's displacement, in units of ``spacing_px``.

    Returns
    -------
    ys, xs : (N,) float64
    """
    y0, x0, y1, x1 = box
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    half = math.hypot(y1 - y0, x1 - x0) / 2 + spacing_px
    rows = np.arange(-half, half + 1e-9, spacing_px * math.sqrt(3) / 2)
    cols = np.arange(-half, half + 1e-9, spacing_px)
    gy, gx = np.meshgrid(rows, cols, indexing="ij")
    gx = gx + (np.arange(rows.size)[:, None] % 2) * spacing_px / 2
    theta = float(rng.uniform(0, math.pi / 3))
    c, s = math.cos(theta), math.sin(theta)
    ys = cy + gy.ravel() * c - gx.ravel() * s
    xs = cx + gy.ravel() * s + gx.ravel() * c
    ys = ys + rng.normal(0, jitter * spacing_px, ys.size)
    xs = xs + rng.normal(0, jitter * spacing_px, xs.size)
    inside = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    return ys[inside], xs[inside]


def render_cells(cells: CellSet, looks: tuple[CellLook, ...], shape: tuple[int, int]) -> FloatImage:
    """Absorbance image ``(Y, X)`` float32 of the cells (rings negative, bodies positive)."""
    return stamp(shape, cells.ys, cells.xs, cells.weights, cells.kinds, [lk.kernel for lk in looks])


def render_footprints(
    cells: CellSet, looks: tuple[CellLook, ...], shape: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """``(Y, X)`` bool: pixels covered by the body of at least one cell."""
    return stamp_footprints(shape, cells.ys, cells.xs, cells.kinds, [lk.footprint for lk in looks])
