"""From a spheroid's history to the scene of one image, and from there to pixels (pure).

Randomness comes from seed sequences keyed by ``(seed, well, field, timepoint)``, so any
single image can be regenerated on its own, in any order. Features that persist for a
well and field over time (where the spheroid sits, its outline, a visible well wall) use a
key without the timepoint; features of one acquisition (bubbles, defocus, noise, debris
grains) use a key with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hts.synth.growth import SpheroidHistory
from hts.synth.render import Body, Bubble, Debris, Harmonics, Scene, WellEdge, render_scene

__all__ = ["ImagingConditions", "image_rng", "sample_scene", "synthesize_image"]

# Domain tags keep the seed-sequence keys of different uses apart (see growth.py).
_LAYOUT_TAG = 2
_SCENE_TAG = 3
_RENDER_TAG = 4


@dataclass(frozen=True)
class ImagingConditions:
    """How often imaging artefacts occur, and the camera's ranges. Lengths in micrometres.

    Attributes
    ----------
    defocus_probability : float
        Fraction of images out of focus.
    defocus_um : (float, float)
        Range of the defocus blur's Gaussian sigma.
    bubble_probability : float
        Fraction of images with an air bubble.
    bubble_radius_um : (float, float)
    well_edge_probability : float
        Fraction of (well, field) views in which the well wall shows near a border.
    well_diameter_um : float
        Inner diameter of a well (6400 for 96-well, about 3300 for 384-well plates).
    background_adu, offset_adu : (float, float)
        Ranges of the light level above the offset, and of the camera offset, ADU.
    vignetting : (float, float)
        Range of the fractional light fall-off at the corners.
    max_gradient : float
        Largest fractional light gradient across the image.
    photons_per_adu, read_noise_adu : (float, float)
        Ranges of the camera gain (electrons per ADU) and read noise (ADU).
    stray_cells_per_mm2 : (float, float)
        Range of the density of isolated dead cells over the field, per square millimetre.
    """

    defocus_probability: float = 0.06
    defocus_um: tuple[float, float] = (4.0, 16.0)
    bubble_probability: float = 0.04
    bubble_radius_um: tuple[float, float] = (30.0, 200.0)
    well_edge_probability: float = 0.08
    well_diameter_um: float = 6400.0
    background_adu: tuple[float, float] = (5000.0, 7500.0)
    offset_adu: tuple[float, float] = (900.0, 1200.0)
    vignetting: tuple[float, float] = (0.03, 0.25)
    max_gradient: float = 0.12
    photons_per_adu: tuple[float, float] = (0.5, 2.0)
    read_noise_adu: tuple[float, float] = (4.0, 12.0)
    stray_cells_per_mm2: tuple[float, float] = (2.0, 20.0)


def _rng(seed: int, tag: int, history: SpheroidHistory, field: int, timepoint: int):
    well = history.well
    key = [seed, tag, well.row_index, well.column, field, timepoint]
    return np.random.default_rng(np.random.SeedSequence(key))


def image_rng(
    seed: int, history: SpheroidHistory, *, field: int, timepoint: int
) -> np.random.Generator:
    """Generator for the pixels of one image (texture, grains, noise)."""
    return _rng(seed, _RENDER_TAG, history, field, timepoint)


@dataclass(frozen=True)
class _View:
    """What stays put for one well and field across timepoints."""

    centre_frac_yx: tuple[float, float]
    harmonics: Harmonics
    density: float
    rim: float
    texture: float
    cloud_factor: float
    cloud_harmonics: Harmonics
    cloud_angle: float
    twin_angle: float
    twin_gap: float
    edge_side: int  # -1 for no wall, else 0..3 = top, bottom, left, right
    edge_depth_frac: float
    edge_along_frac: float


def _harmonics(rng: np.random.Generator, orders: range, scale: float, power: float):
    return tuple(
        (
            k,
            float(scale * rng.uniform(0.3, 1.0) / (k - orders.start + 1) ** power),
            float(rng.uniform(-np.pi, np.pi)),
        )
        for k in orders
    )


def _view(rng: np.random.Generator, imaging: ImagingConditions) -> _View:
    edge_side = int(rng.integers(0, 4)) if rng.random() < imaging.well_edge_probability else -1
    return _View(
        centre_frac_yx=(rng.uniform(0.4, 0.6), rng.uniform(0.38, 0.62)),
        harmonics=_harmonics(rng, range(2, 6), rng.uniform(0.015, 0.05), 1.0),
        density=rng.uniform(0.85, 1.15),
        rim=rng.uniform(0.35, 0.75),
        texture=rng.uniform(0.08, 0.2),
        cloud_factor=rng.uniform(1.15, 1.8),
        cloud_harmonics=_harmonics(rng, range(1, 5), rng.uniform(0.08, 0.2), 1.0),
        cloud_angle=rng.uniform(-np.pi, np.pi),
        twin_angle=rng.uniform(-np.pi, np.pi),
        twin_gap=rng.uniform(-0.1, 0.4),
        edge_side=edge_side,
        edge_depth_frac=rng.uniform(0.03, 0.22),
        edge_along_frac=rng.uniform(-0.6, 0.6),
    )


def _jitter(harmonics: Harmonics, rng: np.random.Generator, gain: float) -> Harmonics:
    return tuple(
        (k, a * gain * rng.uniform(0.85, 1.15), p + rng.normal(0.0, 0.15)) for k, a, p in harmonics
    )


def _extent(radius_px: float, harmonics: Harmonics) -> float:
    return radius_px * (1.0 + sum(abs(a) for _, a, _ in harmonics)) + 3.0


def _clamp(centre: float, extent: float, size: int) -> float:
    if 2.0 * extent >= size:
        return size / 2.0
    return min(max(centre, extent), size - 1.0 - extent)


def _well_edge(view: _View, shape, body_yx, body_extent, imaging, um) -> WellEdge | None:
    if view.edge_side < 0:
        return None
    h, w = shape
    radius = imaging.well_diameter_um / 2.0 / um
    across = h if view.edge_side < 2 else w
    depth = view.edge_depth_frac * across
    along = (w if view.edge_side < 2 else h) * (0.5 + 0.5 * view.edge_along_frac)
    centre = {
        0: (depth + radius, along),
        1: (h - 1.0 - depth - radius, along),
        2: (along, depth + radius),
        3: (along, w - 1.0 - depth - radius),
    }[view.edge_side]
    # The spheroid lies in the well: drop a wall that would cut it.
    if math.dist(centre, body_yx) + body_extent + 10.0 > radius:
        return None
    return WellEdge(centre_yx=centre, radius_px=radius)


def _bubble(rng, shape, body_yx, body_extent, imaging, um) -> Bubble | None:
    if rng.random() >= imaging.bubble_probability:
        return None
    radius = rng.uniform(*imaging.bubble_radius_um) / um
    for _ in range(10):
        centre = (rng.uniform(0, shape[0]), rng.uniform(0, shape[1]))
        if math.dist(centre, body_yx) > body_extent + radius + 10.0:
            return Bubble(centre_yx=centre, radius_px=radius)
    return None


def sample_scene(
    history: SpheroidHistory,
    timepoint: int,
    *,
    seed: int,
    field: int = 1,
    shape: tuple[int, int] = (1030, 1300),
    pixel_size_um: float = 1.6,
    imaging: ImagingConditions | None = None,
) -> Scene:
    """Describe the image of ``history``'s spheroid at one imaging time.

    Parameters
    ----------
    history : SpheroidHistory
    timepoint : int
        Index into ``history.times_h``.
    seed : int
        Non-negative seed of the plate.
    field : int
        1-based field (view) of the well.
    shape : (int, int)
        Image shape (Y, X), pixels.
    pixel_size_um : float
        Micrometres per pixel.
    imaging : ImagingConditions, optional

    Returns
    -------
    Scene
    """
    imaging = ImagingConditions() if imaging is None else imaging
    view = _view(_rng(seed, _LAYOUT_TAG, history, field, 0), imaging)
    rng = _rng(seed, _SCENE_TAG, history, field, timepoint)
    um = pixel_size_um
    h, w = shape
    diameter_um = float(history.diameter_um[timepoint])
    debris = float(history.debris[timepoint])
    detached = bool(history.times_h[timepoint] >= history.detach_time_h)

    # Debris-shedding and detached spheroids have ragged outlines.
    ragged = 1.0 + 1.5 * debris + (1.0 if detached else 0.0)
    harmonics = _jitter(view.harmonics, rng, ragged)
    harmonics += _harmonics(rng, range(6, 25), 0.006 * ragged, 0.5)
    radius = diameter_um / 2.0 / um
    extent = _extent(radius, harmonics)
    centre = (
        _clamp(view.centre_frac_yx[0] * h + rng.normal(0.0, 2.0), extent, h),
        _clamp(view.centre_frac_yx[1] * w + rng.normal(0.0, 2.0), extent, w),
    )
    thickness = float(np.clip((diameter_um / 400.0) ** 0.35, 0.6, 1.25))
    density = 1.15 * view.density * (1.1 if detached else thickness)
    bodies = [
        Body(centre, radius, harmonics, density, view.rim * density, view.texture),
    ]
    if history.twin_ratio > 0:
        r2 = radius * history.twin_ratio
        dist = radius + r2 * (1.0 + view.twin_gap)
        c2 = (
            centre[0] + dist * math.sin(view.twin_angle),
            centre[1] + dist * math.cos(view.twin_angle),
        )
        bodies.append(
            Body(
                c2, r2, _jitter(view.harmonics, rng, 1.0), density, view.rim * density, view.texture
            )
        )

    clouds: list[Debris] = []
    if debris > 0.0:
        # A dense corona hugs the body; a wider cloud marks the largest extent so far.
        corona_r = radius * 1.2 + 25.0 / um
        clouds.append(
            Debris(
                centre,
                corona_r,
                harmonics[:4],
                min(1.0, 1.3 * debris),
                float(rng.uniform(0.3, 0.8)),
                int(rng.poisson(3.0 * debris)),
            )
        )
        largest = float(np.max(history.diameter_um[: timepoint + 1])) / 2.0 / um
        cloud_r = largest * view.cloud_factor
        shift = (0.35 if detached else 0.1) * cloud_r
        cloud_centre = (
            centre[0] + shift * math.sin(view.cloud_angle),
            centre[1] + shift * math.cos(view.cloud_angle),
        )
        clouds.append(
            Debris(
                cloud_centre,
                cloud_r,
                view.cloud_harmonics,
                debris,
                float(rng.uniform(0.4, 1.0)),
                int(rng.poisson(8.0 * debris)),
            )
        )

    defocus = 0.0
    if rng.random() < imaging.defocus_probability:
        defocus = rng.uniform(*imaging.defocus_um) / um
    area_mm2 = h * w * um * um / 1e6
    gradient = rng.uniform(-imaging.max_gradient, imaging.max_gradient, size=2)
    return Scene(
        shape=(h, w),
        pixel_size_um=um,
        bodies=tuple(bodies),
        debris=tuple(clouds),
        background_adu=rng.uniform(*imaging.background_adu),
        offset_adu=rng.uniform(*imaging.offset_adu),
        vignetting=rng.uniform(*imaging.vignetting),
        gradient_yx=(float(gradient[0]), float(gradient[1])),
        defocus_px=defocus,
        bubble=_bubble(rng, shape, centre, extent, imaging, um),
        well_edge=_well_edge(view, shape, centre, extent, imaging, um),
        photons_per_adu=rng.uniform(*imaging.photons_per_adu),
        read_noise_adu=rng.uniform(*imaging.read_noise_adu),
        stray_cells=int(rng.poisson(rng.uniform(*imaging.stray_cells_per_mm2) * area_mm2)),
    )


def synthesize_image(
    history: SpheroidHistory,
    timepoint: int,
    *,
    seed: int,
    field: int = 1,
    shape: tuple[int, int] = (1030, 1300),
    pixel_size_um: float = 1.6,
    imaging: ImagingConditions | None = None,
) -> tuple[np.ndarray, np.ndarray, Scene]:
    """Render one image of a well; the same arguments always give the same pixels.

    Parameters are those of :func:`sample_scene`.

    Returns
    -------
    image : (Y, X) uint16
    mask : (Y, X) bool
        The spheroid bodies, never the debris.
    scene : Scene
        The scene that was rendered.
    """
    scene = sample_scene(
        history,
        timepoint,
        seed=seed,
        field=field,
        shape=shape,
        pixel_size_um=pixel_size_um,
        imaging=imaging,
    )
    rng = image_rng(seed, history, field=field, timepoint=timepoint)
    image, mask = render_scene(scene, rng)
    return image, mask, scene
