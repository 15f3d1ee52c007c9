"""Scene layout per category: what is in the field of view, where, and at what scale.

A scene is an optical-density image plus the exact reference mask and what is known about
it. Categories (:data:`CATEGORIES`):

* ``clean``: a spheroid on a clean background (a few loose cells, maybe a satellite);
* ``debris``: a spheroid in a halo of dead-cell debris, with satellites and loose cells;
* ``small_remnant``: a 40-120 um remnant inside a debris cloud larger and darker than it;
* ``inverted``: bright objects on a dark background (inverted export or darkfield-like);
* ``whole_well``: a whole well at low magnification, wall and dark outside visible, the
  spheroid small near the middle, a burned-in scale bar and text label in the corners;
* ``well_wall``: part of a well wall crossing the field near the spheroid, dark beyond it;
* ``touching``: two spheroids pressed against each other; the mask holds both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from hts.heldout.cells import CellLook, cell_looks
from hts.heldout.debris import random_cloud, render_cloud
from hts.heldout.export import Annotation
from hts.heldout.fields import fill_holes, paste_add, paste_or, radial_distance, smooth_noise
from hts.heldout.layout import place_group, touching_offset
from hts.heldout.satellites import add_loose_cells, add_satellites
from hts.heldout.spheroid import Body, random_spheroid_look, render_spheroid
from hts.heldout.well import Well, random_well_wall, render_well, whole_well

__all__ = ["CATEGORIES", "Scene", "compose_scene"]

FloatImage = npt.NDArray[np.float32]

CATEGORIES = (
    "clean",
    "debris",
    "small_remnant",
    "inverted",
    "whole_well",
    "well_wall",
    "touching",
)


@dataclass(frozen=True, eq=False)
class Scene:
    """The specimen as optical density, with its reference mask.

    Attributes
    ----------
    density : (Y, X) float32
        Optical density (natural log units; negative values brighten).
    mask : (Y, X) bool
        Reference mask: the spheroid (both, for ``touching``), filled.
    category : str
    pixel_size_um : float
        Pixel edge length, micrometres (``1e4 / n`` for an integer ``n``, so that it is
        stored exactly as pixels per centimetre).
    cell_px : float
        Mean cell diameter, pixels.
    contrast : str
        ``brightfield``, ``inverted`` or ``darkfield`` (see :mod:`hts.heldout.optics`).
    body_areas_px : tuple of int
        Mask area of each spheroid body, pixels (two for ``touching``).
    well : Well or None
        The well whose wall is in view.
    annotation : Annotation or None
        Scale bar and label to burn in.
    """

    density: FloatImage
    mask: npt.NDArray[np.bool_]
    category: str
    pixel_size_um: float
    cell_px: float
    contrast: str
    body_areas_px: tuple[int, ...]
    well: Well | None
    annotation: Annotation | None


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _pixel_size(
    rng: np.random.Generator,
    span_um: float,
    shape: tuple[int, int],
    *,
    bounds: tuple[float, float],
    min_px: float,
    fill: float = 0.55,
) -> float:
    """A pixel size from ``bounds`` such that ``span_um`` fits in ``fill`` of the short side
    and is at least ``min_px`` pixels; fitting wins when the two conflict. Quantised to
    ``1e4 / n`` um."""
    um = _log_uniform(rng, *bounds)
    um = min(um, span_um / min_px)
    um = max(um, span_um / (fill * min(shape)))
    return 1e4 / max(1, round(1e4 / um))


def _background(shape: tuple[int, int], rng: np.random.Generator, um: float) -> FloatImage:
    """Plate bottom: a faint uneven density and a few out-of-focus dust rings."""
    big = float(rng.uniform(0.25, 0.6)) * max(shape)
    out = float(rng.uniform(0.004, 0.025)) * smooth_noise(shape, rng, scale_px=big)
    out += 0.006 * smooth_noise(shape, rng, scale_px=max(6.0 / um, 1.0))
    for _ in range(int(rng.integers(0, 4))):
        centre = (float(rng.uniform(0, shape[0])), float(rng.uniform(0, shape[1])))
        radius = float(rng.uniform(15.0, 70.0)) / um
        r = radial_distance(shape, centre)
        width = 0.15 * radius + 1.0
        amp = float(rng.uniform(0.02, 0.08))
        out += amp * (np.exp(-(((r - radius) / width) ** 2)) - 0.5 * np.exp(-((r / radius) ** 2)))
    return np.asarray(out, np.float32)


def _annotation(rng: np.random.Generator, shape: tuple[int, int], um: float) -> Annotation:
    lengths = [v for v in (250.0, 500.0, 1000.0, 2000.0) if 0.08 <= v / um / shape[1] <= 0.35]
    length_um = lengths[int(rng.integers(0, len(lengths)))] if lengths else 0.2 * shape[1] * um
    corners = ["tl", "tr", "bl", "br"]
    bar, text = rng.choice(4, size=2, replace=False)
    well_id = f"{'ABCDEFGH'[int(rng.integers(0, 8))]}{int(rng.integers(1, 13)):02d}"
    texts = [
        f"{length_um:g} um",
        well_id,
        f"{well_id} day {int(rng.integers(0, 40))}",
        f"4x BF {int(rng.integers(1, 29)):02d}.{int(rng.integers(1, 13)):02d}.2024",
    ]
    return Annotation(
        bar_px=(
            max(4, round(length_um / um)),
            max(3, round(float(rng.uniform(0.008, 0.02)) * min(shape))),
        ),
        bar_corner=corners[int(bar)],
        text=texts[int(rng.integers(0, len(texts)))],
        text_corner=corners[int(text)],
        white=bool(rng.random() < 0.7),
    )


def _body(
    rng: np.random.Generator,
    diameter_um: float,
    um: float,
    cell_px: float,
    looks: tuple[CellLook, ...],
    *,
    density: tuple[float, float] = (1.4, 3.4),
    compact: bool = False,
) -> Body:
    """A spheroid; ``compact`` ones (small remnants) are tight balls: at most two lobes, less
    bumpy, a thin border of dark, densely packed cells."""
    look = random_spheroid_look(rng, density=density)
    if compact:
        look = replace(
            look,
            border_cells=float(rng.uniform(0.3, 0.8)),
            packing=float(rng.uniform(0.75, 0.95)),
            cell_density=float(rng.uniform(0.45, 0.8)),
        )
    return render_spheroid(
        rng, radius_px=diameter_um / 2.0 / um, cell_px=cell_px, looks=looks, look=look,
        max_lobes=2 if compact else 4, irregularity=0.5 if compact else 1.0,
    )  # fmt: skip


def compose_scene(
    category: str, rng: np.random.Generator, *, shape: tuple[int, int] | None = None
) -> Scene:
    """Lay out one scene of ``category``.

    Parameters
    ----------
    category : str
        One of :data:`CATEGORIES`.
    rng : np.random.Generator
    shape : (Y, X), optional
        Image shape; default drawn from 768-1300 pixels per side. Small shapes get larger
        pixel sizes so that the spheroid still fits.

    Returns
    -------
    Scene
    """
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}")
    if shape is None:
        shape = (int(rng.integers(768, 1301)), int(rng.integers(768, 1301)))
    cell_um = float(rng.uniform(8.0, 15.0))
    well_um = float(rng.uniform(3300.0, 6400.0))
    diameters = [_log_uniform(rng, 150.0, 900.0)]
    if category == "small_remnant":
        diameters = [float(rng.uniform(40.0, 120.0))]
        um = _pixel_size(rng, diameters[0] * 3, shape, bounds=(0.8, 2.0), min_px=90.0)
    elif category == "touching":
        diameters = [_log_uniform(rng, 150.0, 600.0), _log_uniform(rng, 150.0, 600.0)]
        um = _pixel_size(rng, sum(diameters) * 1.1, shape, bounds=(0.8, 4.0), min_px=80.0)
    elif category == "whole_well":
        um = 1e4 / round(1e4 / (well_um / (min(shape) * float(rng.uniform(0.8, 0.95)))))
        diameters = [max(diameters[0], 16.0 * um)]
    else:
        fill = 0.4 if category == "well_wall" else 0.55
        um = _pixel_size(rng, diameters[0], shape, bounds=(0.8, 4.0), min_px=40.0, fill=fill)
    cell_px = cell_um / um
    looks = cell_looks(rng, cell_px=cell_px)
    density = _background(shape, rng, um)

    remnant = category == "small_remnant"
    dark = (1.2, 2.6) if remnant else (1.4, 3.4)
    bodies = [_body(rng, d, um, cell_px, looks, density=dark, compact=remnant) for d in diameters]
    offsets = [(0, 0)]
    if category == "touching":
        offsets.append(touching_offset(bodies[0], bodies[1], rng, contact_px=cell_px * cell_px))

    well: Well | None = None
    annotation: Annotation | None = None
    if category == "whole_well":
        well = whole_well(rng, shape=shape, diameter_um=well_um, um_per_px=um)
        origin = place_group(
            bodies, offsets, shape, rng, near=well.centre, within=0.3 * well.radius_px
        )
    elif category == "well_wall":
        origin, phi, gap = _beside_wall(bodies, offsets, shape, rng, um)
        well = random_well_wall(
            rng, target=origin, clearance_px=gap, direction=phi, diameter_um=well_um, um_per_px=um
        )
    else:
        inset = 0.25 if category == "small_remnant" else 0.03
        origin = place_group(bodies, offsets, shape, rng, margin=inset * min(shape))
    if category == "whole_well":
        annotation = _annotation(rng, shape, um)
    if well is not None:
        density = density + render_well(well, shape, rng)

    mask = np.zeros(shape, bool)
    areas = []
    for body, off in zip(bodies, offsets, strict=True):
        top = (
            round(origin[0]) + off[0] - round(body.centre[0]),
            round(origin[1]) + off[1] - round(body.centre[1]),
        )
        density = paste_add(density, body.absorbance, top)
        mask = paste_or(mask, body.mask, top)
        areas.append(int(body.mask.sum()))
    mask = fill_holes(mask)

    keep_out = mask if well is None else mask | ~well.inside(shape)
    reach = 4.0 * max(b.extent_px for b in bodies)
    p_sat = {"clean": 0.35, "debris": 0.7, "small_remnant": 0.3}.get(category, 0.45)
    if rng.random() < p_sat:
        density, keep_out = add_satellites(
            density, keep_out, rng, n=int(rng.integers(1, 6)), cell_px=cell_px, looks=looks,
            near=origin, reach_px=reach,
        )  # fmt: skip
    n_loose = int(rng.integers(0, 25) if category == "clean" else rng.integers(5, 90))
    density = add_loose_cells(
        density, keep_out, rng, n=n_loose, cell_px=cell_px, looks=looks, near=origin,
        spread_px=reach / 2.0,
    )  # fmt: skip
    p_debris = {"clean": 0.0, "debris": 1.0, "small_remnant": 1.0, "touching": 0.3}.get(
        category, 0.45
    )
    if rng.random() < p_debris:
        cloud = random_cloud(
            rng, centre=origin, spheroid_radius_px=max(b.extent_px for b in bodies),
            dense=category == "small_remnant",
        )  # fmt: skip
        density = density + render_cloud(cloud, shape, rng, um_per_px=um)

    contrast = "brightfield"
    if category == "inverted":
        contrast = "inverted" if rng.random() < 0.6 else "darkfield"
    return Scene(
        density=np.asarray(density, np.float32),
        mask=mask,
        category=category,
        pixel_size_um=um,
        cell_px=cell_px,
        contrast=contrast,
        body_areas_px=tuple(areas),
        well=well,
        annotation=annotation,
    )


def _beside_wall(
    bodies: list[Body],
    offsets: list[tuple[int, int]],
    shape: tuple[int, int],
    rng: np.random.Generator,
    um: float,
) -> tuple[tuple[int, int], float, float]:
    """Origin of the spheroid, direction (radians) and distance (pixels) to a visible wall.

    The wall lies 15-250 um beyond the spheroid's edge, and at least 8 % of the short side
    inside the image, on the side with the most room.
    """
    extent = bodies[0].extent_px
    edge = 0.08 * min(shape)
    origin = place_group(bodies, offsets, shape, rng)
    room: dict[float, float] = {}
    for _ in range(50):
        origin = place_group(bodies, offsets, shape, rng, margin=0.05 * min(shape))
        room = {
            -math.pi / 2: origin[0] - edge,
            math.pi / 2: shape[0] - origin[0] - edge,
            math.pi: origin[1] - edge,
            0.0: shape[1] - origin[1] - edge,
        }
        if max(room.values()) >= extent + 15.0 / um + 2.0:
            break
    side = max(room, key=lambda k: room[k])
    gap = min(extent + float(rng.uniform(15.0, 250.0)) / um, max(room[side], extent + 2.0))
    return origin, side + float(rng.uniform(-0.35, 0.35)), gap
