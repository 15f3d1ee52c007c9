"""What lies near a spheroid without being part of it: satellite aggregates and loose cells.

Satellites are small separate cell aggregates (a few to a few dozen cells) that budded off
or never joined; loose cells are single living cells on the well bottom. Both are placed a
clear gap away from the spheroid mask (so that an annotator would not draw them into it) and
both are excluded from the reference mask.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hts.heldout.cells import CellLook, CellSet, render_cells
from hts.heldout.fields import paste_add, paste_or, signed_distance
from hts.heldout.spheroid import random_spheroid_look, render_spheroid

__all__ = ["add_loose_cells", "add_satellites"]

FloatImage = npt.NDArray[np.float32]
BoolImage = npt.NDArray[np.bool_]


def add_satellites(
    absorbance: FloatImage,
    keep_out: BoolImage,
    rng: np.random.Generator,
    *,
    n: int,
    cell_px: float,
    looks: tuple[CellLook, ...],
    near: tuple[float, float],
    reach_px: float,
) -> tuple[FloatImage, BoolImage]:
    """Add up to ``n`` satellite aggregates around ``near``, outside ``keep_out``.

    Parameters
    ----------
    absorbance : (Y, X) float32
        Scene optical density; a new array is returned.
    keep_out : (Y, X) bool
        Pixels (the spheroid masks) a satellite must stay clear of by at least two cells.
    rng : np.random.Generator
    n : int
        Satellites to try to place (a draw that lands too close is skipped).
    cell_px : float
        Mean cell diameter, pixels.
    looks : tuple of CellLook
    near : (y, x)
        Centre of the region they are scattered around, pixels.
    reach_px : float
        Largest distance of a satellite centre from ``near``, pixels.

    Returns
    -------
    absorbance : (Y, X) float32
    occupied : (Y, X) bool
        ``keep_out`` plus the satellites' own masks (to keep later objects off them).
    """
    shape = absorbance.shape[:2]
    sd = signed_distance(keep_out)
    occupied = keep_out.copy()
    out = absorbance
    for _ in range(n):
        radius = cell_px * float(rng.uniform(1.0, 3.5))
        phi = float(rng.uniform(0, 2 * math.pi))
        dist = float(rng.uniform(0.3, 1.0)) * reach_px
        cy, cx = near[0] + dist * math.sin(phi), near[1] + dist * math.cos(phi)
        iy, ix = round(cy), round(cx)
        if not (0 <= iy < shape[0] and 0 <= ix < shape[1]):
            continue
        if sd[iy, ix] > -(radius * 1.6 + 2.5 * cell_px) or occupied[iy, ix]:
            continue
        look = random_spheroid_look(rng, density=(0.4, 1.4))
        body = render_spheroid(
            rng, radius_px=radius, cell_px=cell_px, looks=looks, look=look, max_lobes=2
        )
        top = (iy - round(body.centre[0]), ix - round(body.centre[1]))
        out = paste_add(out, body.absorbance, top)
        occupied = paste_or(occupied, body.mask, top)
    return out, occupied


def add_loose_cells(
    absorbance: FloatImage,
    keep_out: BoolImage,
    rng: np.random.Generator,
    *,
    n: int,
    cell_px: float,
    looks: tuple[CellLook, ...],
    near: tuple[float, float],
    spread_px: float,
) -> FloatImage:
    """Add about ``n`` single cells scattered around ``near``, clear of ``keep_out``.

    Parameters
    ----------
    absorbance : (Y, X) float32
        Scene optical density; a new array is returned.
    keep_out : (Y, X) bool
        Pixels a loose cell must stay at least 1.5 cell diameters away from.
    rng : np.random.Generator
    n : int
        Cells drawn before the ones too close to ``keep_out`` are dropped.
    cell_px : float
    looks : tuple of CellLook
    near : (y, x)
        Centre of the scatter, pixels.
    spread_px : float
        Standard deviation of the (Gaussian) scatter, pixels.

    Returns
    -------
    (Y, X) float32
    """
    shape = absorbance.shape[:2]
    sd = signed_distance(keep_out)
    ys = near[0] + rng.normal(0, spread_px, n)
    xs = near[1] + rng.normal(0, spread_px, n)
    iy = np.clip(np.rint(ys).astype(int), 0, shape[0] - 1)
    ix = np.clip(np.rint(xs).astype(int), 0, shape[1] - 1)
    keep = sd[iy, ix] < -1.5 * cell_px
    cells = CellSet(ys, xs, rng.uniform(0.2, 0.55, n), rng.integers(0, len(looks), n)).select(keep)
    return np.asarray(absorbance + render_cells(cells, looks, shape), np.float32)
