"""A spheroid as a mass of packed cells: a dark, dense core and a translucent, bumpy border.

The model: a lobed outline (:mod:`hts.heldout.outline`) holds cells packed on a jittered
lattice. Deep inside, cells are stacked many layers thick, so the projected optical density
grows like the chord of a dome and the core is dark with a faint mottle. Towards the edge
the mass thins out: a border band a few cells wide holds only one or two layers of loosely
packed cells, lighter than the core, and single cells stick out of the outline, making it
bumpy. The reference mask is the compact mass with this attached border, filled: the outline
joined with the footprints of the cells that touch it, closed over gaps of less than a cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from hts.heldout.cells import CellLook, CellSet, jittered_lattice, render_cells, render_footprints
from hts.heldout.fields import fill_holes, largest_component, signed_distance, smooth_noise
from hts.heldout.outline import outline_field, outline_mask, random_outline

__all__ = ["Body", "SpheroidLook", "random_spheroid_look", "render_spheroid"]

FloatImage = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SpheroidLook:
    """How dark and how loose a spheroid is.

    Attributes
    ----------
    core_density : float
        Optical density (natural log units) at the thickest point of the compact mass.
    border_cells : float
        Width of the loosely packed border band, in cell diameters.
    dome_power : float
        Exponent of the dome profile; larger values keep the edge zone lighter for longer.
    cell_density : float
        Optical density at the centre of one cell of the border band.
    mottle : float
        Relative large-scale variation of the core's density.
    packing : float
        Fraction of border-band lattice sites that hold a cell at the outline.
    """

    core_density: float
    border_cells: float
    dome_power: float
    cell_density: float
    mottle: float
    packing: float


@dataclass(frozen=True, eq=False)
class Body:
    """A rendered cell mass on its own canvas.

    Attributes
    ----------
    absorbance : (H, W) float32
        Optical density of the mass and its cells (0 where empty).
    mask : (H, W) bool
        The reference mask: compact mass with its attached border, filled, one piece.
    centre : (y, x)
        Outline centre on the canvas, pixels.
    extent_px : float
        Largest distance of a mask pixel from ``centre``, pixels.
    """

    absorbance: FloatImage
    mask: npt.NDArray[np.bool_]
    centre: tuple[float, float]
    extent_px: float


def random_spheroid_look(
    rng: np.random.Generator, *, density: tuple[float, float] = (1.4, 3.4)
) -> SpheroidLook:
    """Draw a spheroid look; ``density`` bounds the core's optical density."""
    return SpheroidLook(
        core_density=float(rng.uniform(*density)),
        border_cells=float(rng.uniform(0.8, 3.0)),
        dome_power=float(rng.uniform(0.6, 1.4)),
        cell_density=float(rng.uniform(0.15, 0.4)),
        mottle=float(rng.uniform(0.05, 0.2)),
        packing=float(rng.uniform(0.4, 0.8)),
    )


def _keep_probability(
    sd: npt.NDArray[np.float64], border: float, cell: float, packing: float
) -> npt.NDArray[np.float64]:
    """Chance that a lattice site at signed distance ``sd`` (pixels) from the outline holds a
    cell: ``packing`` at the outline, rising to 1 across the border band, falling to 0 at
    0.7 cell diameters outside."""
    inner = packing + (1.0 - packing) * np.clip(sd / border, 0.0, 1.0)
    outer = packing * np.clip(1.0 + sd / (0.7 * cell), 0.0, 1.0)
    return np.where(sd >= 0, inner, outer)


def render_spheroid(
    rng: np.random.Generator,
    *,
    radius_px: float,
    cell_px: float,
    looks: tuple[CellLook, ...],
    look: SpheroidLook,
    max_lobes: int = 4,
    irregularity: float = 1.0,
) -> Body:
    """Render one spheroid (or a small aggregate) on a square canvas around it.

    Parameters
    ----------
    rng : np.random.Generator
    radius_px : float
        Equivalent radius of the outline, pixels.
    cell_px : float
        Mean cell diameter, pixels.
    looks : tuple of CellLook
        Cell looks of the scene (:func:`hts.heldout.cells.cell_looks`).
    look : SpheroidLook
    max_lobes, irregularity
        Passed to :func:`hts.heldout.outline.random_outline`.

    Returns
    -------
    Body
    """
    spec = random_outline(
        rng, radius_px=radius_px, cell_px=cell_px, max_lobes=max_lobes, irregularity=irregularity
    )
    half = math.ceil(spec.extent_px + 3.0 * cell_px + 4.0)
    shape = (2 * half + 1, 2 * half + 1)
    centre = (float(half), float(half))
    outline = outline_mask(outline_field(spec, shape, centre, rng))
    sd = signed_distance(outline)
    depth_max = float(sd.max())
    border = min(look.border_cells * cell_px, 0.25 * depth_max)

    # Compact mass: a dome over the core (outline shrunk by the border band), softened.
    core = np.clip((sd - border) / max(depth_max - border, 1.0), 0.0, 1.0)
    dome = np.sqrt(1.0 - (1.0 - core) ** 2) ** look.dome_power
    mottle = 1.0 + look.mottle * smooth_noise(shape, rng, scale_px=4.0 * cell_px)
    band = 0.6 * look.cell_density * np.clip(sd / max(border, 1.0), 0.0, 1.0)
    mass = look.core_density * dome * mottle + band
    sigma = max(0.4 * cell_px, 0.7)
    mass = cv2.GaussianBlur(mass.astype(np.float32), (0, 0), sigma)

    # Cells: two lattice layers (cells overlap in projection), thinning out across the border.
    oy, ox = np.nonzero(outline)
    box = (
        float(oy.min()) - cell_px,
        float(ox.min()) - cell_px,
        float(oy.max()) + 1.0 + cell_px,
        float(ox.max()) + 1.0 + cell_px,
    )
    layers = []
    for layer, share in enumerate((1.0, 0.6)):
        ys, xs = jittered_lattice(box, 0.92 * cell_px, rng, jitter=0.22)
        iy = np.clip(np.rint(ys).astype(int), 0, shape[0] - 1)
        ix = np.clip(np.rint(xs).astype(int), 0, shape[1] - 1)
        d = sd[iy, ix].astype(np.float64)
        p = _keep_probability(d, max(border, 1.0), cell_px, look.packing)
        if layer:
            p = p * (d > 0)
        keep = rng.random(ys.size) < p
        light = 0.55 + 0.45 * np.clip(d / max(border, 1.0), 0.0, 1.0)
        weights = share * look.cell_density * light * rng.uniform(0.6, 1.4, ys.size)
        kinds = rng.integers(0, len(looks), ys.size)
        layers.append(CellSet(ys, xs, weights, kinds).select(keep))
    cells = CellSet.join(*layers)
    absorbance = mass + render_cells(cells, looks, shape)

    # Reference mask: outline plus the footprints of the (attached) cells, closed and filled.
    feet = render_footprints(layers[0], looks, shape)
    size = max(3, 2 * round(0.5 * cell_px) + 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    joined = cv2.morphologyEx((outline | feet).astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    mask = fill_holes(largest_component(joined > 0))
    yy, xx = np.nonzero(mask)
    extent = float(np.sqrt((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2).max()) if yy.size else 0.0
    return Body(np.asarray(absorbance, np.float32), mask, centre, extent)
