"""Domain-randomised single images with exact masks, for training and testing segmenters.

Plates (``plate.py``) follow one experiment's look. Training needs the opposite: every
sample its own spheroid, fate and time point, under widely varied optics and cameras, so
that a model learns what a spheroid is rather than what this generator's default camera
looks like. Each sample is independent (its own spheroid), so splitting samples by index
splits by spheroid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from hts.synth.growth import Scenario, imaging_times_h, simulate_spheroid
from hts.synth.plate import DEBRIS_CATEGORY_MIN
from hts.synth.render import Body, Scene, WellEdge, outline_radius, render_scene
from hts.synth.scene import ImagingConditions, sample_scene
from hts.wells import WellId

__all__ = ["TrainingSample", "randomised_conditions", "training_sample"]

_TAG = 11  # keeps these seed sequences apart from the plate generator's


@dataclass(frozen=True)
class TrainingSample:
    """One image with its exact mask and what kind of case it is."""

    image: np.ndarray  # (Y, X) uint16 or uint8
    mask: np.ndarray  # (Y, X) bool: spheroid bodies only, never debris
    category: str  # "clean", "debris" or "whole_well"
    pixel_size_um: float
    diameter_um: float  # equivalent-circle diameter of the true mask (all bodies)
    dose_gy: float
    day: float


def randomised_conditions(
    rng: np.random.Generator, *, well_edge_probability: float = 0.2
) -> ImagingConditions:
    """Imaging artefacts more frequent and camera ranges wider than any one microscope's."""
    level = rng.uniform(800.0, 9000.0)
    return ImagingConditions(
        defocus_probability=0.12,
        defocus_um=(3.0, 14.0),
        bubble_probability=0.12,
        well_edge_probability=well_edge_probability,
        well_diameter_um=float(rng.choice([3300.0, 6400.0])),
        background_adu=(level, level * rng.uniform(1.0, 1.5)),
        offset_adu=(rng.uniform(0.0, 1500.0), rng.uniform(1500.0, 2000.0)),
        vignetting=(0.0, rng.uniform(0.1, 0.45)),
        max_gradient=rng.uniform(0.0, 0.3),
        photons_per_adu=(rng.uniform(0.2, 1.0), rng.uniform(1.0, 4.0)),
        read_noise_adu=(rng.uniform(1.0, 5.0), rng.uniform(5.0, 25.0)),
        stray_cells_per_mm2=(0.0, rng.uniform(5.0, 60.0)),
    )


def _post(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera and export variety: gamma, narrow 16-bit ranges, 8-bit exports, blur."""
    x = image.astype(np.float32)
    lo, hi = np.percentile(x, [0.1, 99.9])
    x = np.clip((x - lo) / max(hi - lo, 1.0), 0.0, 1.0)
    x = x ** float(np.exp(rng.normal(0.0, 0.25)))
    if rng.random() < 0.2:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.5, 1.5)))
    if rng.random() < 0.3:  # an 8-bit export (some microscopes, PNG/JPEG)
        low = rng.uniform(0.0, 60.0)
        span = rng.uniform(120.0, 255.0 - low)
        return np.clip(np.rint(low + span * x), 0, 255).astype(np.uint8)
    low = rng.uniform(200.0, 4000.0)  # a narrow part of the 16-bit range
    span = rng.uniform(1500.0, 12000.0)
    return np.clip(np.rint(low + span * x), 0, 65535).astype(np.uint16)


def _towards(centre_yx: tuple[float, float], angle: float, reach: float) -> tuple[float, float]:
    """The point ``reach`` pixels from ``centre_yx`` in direction ``angle`` (radians)."""
    return centre_yx[0] + reach * math.sin(angle), centre_yx[1] + reach * math.cos(angle)


def _cellular(scene: Scene, rng: np.random.Generator) -> Scene:
    """The scene's spheroid as real ones look: a dense core in a translucent, bumpy border
    of cells, with attached lobes (in the mask) and satellite aggregates (not in it)."""
    um = scene.pixel_size_um
    density = float(rng.uniform(0.9, 2.6))
    border = float(rng.uniform(0.1, 0.45))
    cell_um = float(rng.uniform(8.0, 16.0))
    border_density = float(rng.uniform(0.2, 0.9))
    texture = float(rng.uniform(0.05, 0.25))
    loose = float(rng.uniform(0.2, 0.5))  # the outer sparse cells: a halo, not the mass
    bodies = [
        replace(
            b,
            loose=loose,
            border=border,
            cell_um=cell_um,
            border_density=border_density,
            density=density,
            texture=texture,
        )
        for b in scene.bodies
    ]
    main = bodies[0]
    if rng.random() < 0.5:  # lobes: smaller cell masses grown onto the outline
        for _ in range(int(rng.integers(1, 4))):
            angle = float(rng.uniform(-math.pi, math.pi))
            reach = main.radius_px * float(rng.uniform(0.75, 1.05))
            bodies.append(
                replace(
                    main,
                    centre_yx=_towards(main.centre_yx, angle, reach),
                    radius_px=main.radius_px * float(rng.uniform(0.2, 0.5)),
                    harmonics=((2, float(rng.uniform(0.0, 0.2)), angle),),
                    border=float(rng.uniform(0.2, 0.6)),
                )
            )
    if rng.random() < 0.6:  # satellites: separate aggregates, never the spheroid
        for _ in range(int(rng.integers(1, 5))):
            angle = float(rng.uniform(-math.pi, math.pi))
            radius = float(rng.uniform(12.0, 55.0)) / um
            reach = main.radius_px * float(rng.uniform(1.3, 2.8)) + radius + 10.0 / um
            bodies.append(
                replace(
                    main,
                    centre_yx=_towards(main.centre_yx, angle, reach),
                    radius_px=radius,
                    harmonics=((2, float(rng.uniform(0.0, 0.25)), angle),),
                    border=float(rng.uniform(0.3, 0.8)),
                    density=density * float(rng.uniform(0.4, 1.0)),
                    in_mask=False,
                )
            )
    return replace(scene, bodies=tuple(bodies))


def _restyle_spheroid(scene: Scene, change: Callable[[int, Body], Body]) -> Scene:
    """The scene with ``change(i, body)`` applied to each body in the mask (``i`` its
    place among all bodies: 0 the main body, after it the lobes); satellites untouched."""
    bodies = tuple(change(i, b) if b.in_mask else b for i, b in enumerate(scene.bodies))
    return replace(scene, bodies=bodies)


def _translucent(scene: Scene, rng: np.random.Generator) -> Scene:
    """The spheroid's border as a lighter, finely textured band of cells filling the
    space between the dark core and the compact outline (`Body.fill`), lobes lighter too;
    the band is in the mask."""
    border = float(rng.uniform(0.15, 0.45))
    fill = float(rng.uniform(0.12, 0.55))
    return _restyle_spheroid(
        scene,
        lambda i, b: replace(
            b,
            border=border,
            fill=fill * float(rng.uniform(0.8, 1.2)),
            loose=float(rng.uniform(0.0, 0.3)),
            border_density=float(rng.uniform(0.1, 0.5)),
            # lobes (in the mask, after the main body): often lighter than the core
            density=b.density * (float(rng.uniform(0.3, 1.0)) if i else 1.0),
        ),
    )


def _light_border(scene: Scene, rng: np.random.Generator) -> Scene:
    """The spheroid's border as loosely packed living cells that bend light: each cell
    has a dark rim and a middle as light as the well or lighter (`Body.lens`), so the
    band between the dark core and the outline is about as light as the background, only
    its texture of cell outlines sets it apart; the band is in the mask."""
    border = float(rng.uniform(0.12, 0.5))
    lens = float(rng.uniform(0.35, 1.0))
    fill = float(rng.uniform(0.0, 0.12))
    cell_um = float(rng.uniform(9.0, 20.0))
    return _restyle_spheroid(
        scene,
        lambda i, b: replace(
            b,
            border=border * (float(rng.uniform(1.0, 1.6)) if i else 1.0),
            lens=lens,
            fill=fill,
            cell_um=cell_um,
            loose=float(rng.uniform(0.15, 0.5)),  # outer sparse cells: a halo, as annotated
            border_density=float(rng.uniform(0.25, 0.9)),
            density=b.density * (float(rng.uniform(0.3, 1.0)) if i else 1.0),
        ),
    )


def _cluster_lobes(scene: Scene, rng: np.random.Generator) -> Scene:
    """One to three lobes of loosely packed cells on the spheroid's outline, in the mask:
    clusters whose single cells show (little or no dense core, `Body.border` near 1),
    lighter than the spheroid's core, joined to it by a neck as narrow as a few cells, as
    lobed patient-derived spheroids look. The scene's spheroid must be cellular."""
    main = scene.bodies[0]
    lobes = []
    for _ in range(int(rng.integers(1, 4))):
        angle = float(rng.uniform(-math.pi, math.pi))
        radius = main.radius_px * float(rng.uniform(0.2, 0.45))
        # centre just outside the compact outline (inside the loose halo, `Body.loose`):
        # the lobe overlaps the cell mass by 0.5-1 of its radius
        reach = outline_radius(np.array([angle]), main.radius_px, main.harmonics)[0]
        reach *= 1.0 - main.border * main.loose
        reach += radius * float(rng.uniform(0.0, 0.5))
        lobes.append(
            replace(
                main,
                centre_yx=_towards(main.centre_yx, angle, float(reach)),
                radius_px=radius,
                harmonics=(
                    (2, float(rng.uniform(0.0, 0.25)), angle),
                    (3, float(rng.uniform(0.0, 0.15)), float(rng.uniform(-math.pi, math.pi))),
                ),
                border=float(rng.uniform(0.75, 1.0)),
                border_density=float(rng.uniform(0.25, 0.9)),
                density=main.density * float(rng.uniform(0.2, 0.6)),
                # the outer sparse cells a halo outside the mask, as the main body's (run17
                # drew lobes with 0-0.2, and outlines grew over loose cells on real images)
                loose=float(rng.uniform(0.2, 0.5)),
                fill=0.0,
                lens=float(rng.uniform(0.0, 0.6)),
            )
        )
    return replace(scene, bodies=(main, *lobes, *scene.bodies[1:]))


def _shift(scene: Scene, dy: float, dx: float) -> Scene:
    """The scene with its spheroid bodies and debris moved by (dy, dx) pixels."""
    return replace(
        scene,
        bodies=tuple(
            replace(b, centre_yx=(b.centre_yx[0] + dy, b.centre_yx[1] + dx)) for b in scene.bodies
        ),
        debris=tuple(
            replace(d, centre_yx=(d.centre_yx[0] + dy, d.centre_yx[1] + dx)) for d in scene.debris
        ),
    )


def _whole_well(scene: Scene, well_diameter_um: float, rng: np.random.Generator) -> Scene:
    """A low-magnification view of the whole well: the circular wall all round, dark
    outside it, and the spheroid somewhere inside (near the middle, as round-bottom wells
    hold it, or off it)."""
    h, w = scene.shape
    radius = well_diameter_um / 2.0 / scene.pixel_size_um
    centre = (h / 2.0 + rng.uniform(-0.05, 0.05) * h, w / 2.0 + rng.uniform(-0.05, 0.05) * w)
    body = scene.bodies[0]
    reach = max(0.0, radius - body.radius_px * 1.5 - 10.0) * float(rng.uniform(0.0, 0.6))
    angle = float(rng.uniform(-math.pi, math.pi))
    target = _towards(centre, angle, reach)
    moved = _shift(scene, target[0] - body.centre_yx[0], target[1] - body.centre_yx[1])
    return replace(moved, well_edge=WellEdge(centre_yx=centre, radius_px=radius))


def _burn_in(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A scale bar and a text label burned into a corner, as exports of some microscopes."""
    out = image.copy()
    h, w = out.shape
    # white at up to 1.5 times the brightest pixel (it widens the export's range), or black
    top = float(out.max()) * float(rng.uniform(1.0, 1.5))
    value = int(min(top, np.iinfo(out.dtype).max)) if rng.random() < 0.7 else 0
    length, thick = int(w * rng.uniform(0.08, 0.25)), max(2, int(h * rng.uniform(0.005, 0.015)))
    y = int(h * rng.uniform(0.88, 0.96)) if rng.random() < 0.7 else int(h * rng.uniform(0.04, 0.1))
    x = int(w * rng.uniform(0.03, 0.1)) if rng.random() < 0.5 else w - length - int(w * 0.05)
    ink = np.zeros((h, w), np.uint8)  # OpenCV draws text on 8-bit images only
    cv2.rectangle(ink, (x, y), (x + length, y + thick), 255, thickness=-1)
    text = str(rng.choice(["500 um", "200 um", "Day 7", "B03", "10x", "VID1335 00d05h"]))
    scale = h / 700.0 * float(rng.uniform(0.6, 1.4))
    cv2.putText(ink, text, (x, max(12, y - int(12 * scale))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                255, max(1, int(2 * scale)), cv2.LINE_AA)  # fmt: skip
    out[ink > 127] = value
    return out


def training_sample(
    seed: int,
    index: int,
    *,
    shape: tuple[int, int] = (1030, 1300),
    debris_fraction: float = 0.5,
    pixel_size_um: tuple[float, float] = (0.9, 2.8),
    well_edge_probability: float = 0.2,
    cellular_probability: float = 0.0,
    burn_in_probability: float = 0.0,
    whole_well_probability: float = 0.0,
    translucent_probability: float = 0.0,
    light_border_probability: float = 0.0,
    cluster_lobe_probability: float = 0.0,
) -> TrainingSample:
    """Sample ``index`` of the randomised set ``seed``; the same pair gives the same pixels.

    About ``debris_fraction`` of samples are treated spheroids at a time point with debris;
    the rest are untreated or not yet shedding. Pixel sizes are drawn log-uniformly. About
    ``well_edge_probability`` of samples show a well wall, dark outside it (a set of hard
    negatives needs more than the default). About ``cellular_probability`` of samples draw
    the spheroid as real ones look (`Body.border`: a dense core in a translucent, bumpy
    border of cells, with lobes and satellite aggregates); ``burn_in_probability`` adds a
    scale bar and a label. About ``whole_well_probability`` of samples are
    low-magnification views of the whole well (3-8 um per pixel): the circular wall all
    round, dark outside it, a small spheroid inside. About ``translucent_probability`` of
    samples draw the spheroid (cellular) with a lighter, textured band of cells between
    its dark core and its outline, inside the mask (`Body.fill`). About
    ``light_border_probability`` of samples draw that band instead as refractive cells as
    light as the well (`Body.lens`). About ``cluster_lobe_probability`` of samples add
    lobes of loosely packed cells joined to the spheroid by a neck, in the mask. All
    default to 0, which keeps the sets v1-v4 were trained on.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, _TAG, index]))
    scenario = Scenario(
        diameter0_um=(float(rng.uniform(150.0, 350.0)), float(rng.uniform(350.0, 550.0))),
        max_diameter_um=float(rng.uniform(700.0, 1000.0)),
        twin_probability=0.08,
        detach_probability_per_gy=0.06,
    )
    want_debris = rng.random() < debris_fraction
    dose = float(rng.uniform(2.0, 14.0)) if want_debris else float(rng.choice([0.0, 0.0, 2.0, 6.0]))
    n_days = int(rng.integers(8, 40))
    times_h = imaging_times_h(n_days + 1)
    well = WellId(int(rng.integers(0, 16)), int(rng.integers(1, 25)))
    history = simulate_spheroid(well, dose, times_h=times_h, scenario=scenario, rng=rng)
    if want_debris:
        candidates = np.flatnonzero(history.debris >= DEBRIS_CATEGORY_MIN)
    else:
        candidates = np.flatnonzero(history.debris < DEBRIS_CATEGORY_MIN)
    candidates = candidates if candidates.size else np.arange(times_h.size)
    t = int(rng.choice(candidates))
    um = float(math.exp(rng.uniform(math.log(pixel_size_um[0]), math.log(pixel_size_um[1]))))
    # drawn from their own stream so the sets made with it at 0 stay the same
    views = np.random.default_rng(np.random.SeedSequence([seed, _TAG, index, 2]))
    whole_well_um = 0.0
    if views.random() < whole_well_probability:
        whole_well_um = float(views.uniform(2500.0, 6400.0))
        um = whole_well_um * float(views.uniform(1.0, 1.3)) / min(shape)
    # keep the spheroid inside the field of view at this pixel size
    fits = min(shape) * um * 0.8
    if history.diameter_um[t] > fits:
        um *= float(history.diameter_um[t]) / fits
    scene = sample_scene(
        history,
        t,
        seed=seed,
        shape=shape,
        pixel_size_um=um,
        imaging=randomised_conditions(rng, well_edge_probability=well_edge_probability),
    )
    if rng.random() < 0.3:  # spheroid anywhere in the field, not only near the centre
        body = scene.bodies[0]
        margin = body.radius_px * 1.3 + 5
        centre = (
            float(rng.uniform(margin, max(margin + 1, shape[0] - margin))),
            float(rng.uniform(margin, max(margin + 1, shape[1] - margin))),
        )
        scene = _shift(scene, centre[0] - body.centre_yx[0], centre[1] - body.centre_yx[1])
    if whole_well_um:
        scene = _whole_well(scene, whole_well_um, views)
    # drawn from their own stream so the sets made with both at 0 stay the same
    extra = np.random.default_rng(np.random.SeedSequence([seed, _TAG, index, 1]))
    cellular = extra.random() < cellular_probability
    if cellular:
        scene = _cellular(scene, extra)
    # looks of a cellular spheroid, each from its own stream (a cellular one is made first)
    looks = (
        (3, translucent_probability, _translucent),
        (4, light_border_probability, _light_border),
        (5, cluster_lobe_probability, _cluster_lobes),
    )
    for stream, probability, look in looks:
        draws = np.random.default_rng(np.random.SeedSequence([seed, _TAG, index, stream]))
        if draws.random() < probability:
            scene = look(scene if cellular else _cellular(scene, draws), draws)
            cellular = True
    image, mask = render_scene(scene, rng)
    image = _post(image, rng)
    if extra.random() < burn_in_probability:
        image = _burn_in(image, extra)
    area_um2 = float(mask.sum()) * um * um
    return TrainingSample(
        image=image,
        mask=mask,
        category="whole_well"
        if whole_well_um
        else "debris"
        if history.debris[t] >= DEBRIS_CATEGORY_MIN
        else "clean",
        pixel_size_um=um,
        diameter_um=math.sqrt(4.0 * area_um2 / math.pi),
        dose_gy=dose,
        day=float(times_h[t] / 24.0),
    )
