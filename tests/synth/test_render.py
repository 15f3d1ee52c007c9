"""Tests for hts.synth.render: masks are exact, debris never enters them."""

from __future__ import annotations

import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hts.synth.render import (
    Body,
    Bubble,
    Debris,
    Scene,
    WellEdge,
    outline_radius,
    render_scene,
)

SHAPE = (256, 320)
HARMONICS = ((2, 0.06, 0.3), (3, 0.04, 1.1), (5, 0.02, -0.7), (11, 0.005, 2.0))


def _scene(**kw) -> Scene:
    base = {
        "shape": SHAPE,
        "pixel_size_um": 3.2,
        "bodies": (Body((128.0, 160.0), 50.0, HARMONICS),),
    }
    base.update(kw)
    return Scene(**base)


def _render(scene: Scene, seed: int = 0):
    return render_scene(scene, np.random.default_rng(seed))


def _components(mask: np.ndarray) -> int:
    n, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return n - 1


@settings(max_examples=25, deadline=None)
@given(
    radius=st.floats(5.0, 400.0),
    amplitudes=st.lists(st.floats(0.0, 0.08), min_size=0, max_size=6),
)
def test_outline_radius_keeps_the_equivalent_area(radius: float, amplitudes: list[float]) -> None:
    harmonics = tuple((k + 2, a, 0.3 * k) for k, a in enumerate(amplitudes))
    theta = np.linspace(-np.pi, np.pi, 20001)
    r = outline_radius(theta, radius, harmonics)
    area = 0.5 * np.trapezoid(r**2, theta)
    assert area == pytest.approx(np.pi * radius**2, rel=1e-6)


def test_image_and_mask_types() -> None:
    image, mask = _render(_scene())
    assert image.shape == mask.shape == SHAPE
    assert image.dtype == np.uint16
    assert mask.dtype == np.bool_
    # Only a narrow part of the 16-bit range is used, as with the Axiovert camera.
    assert 300 < int(image.min()) and int(image.max()) < 20000
    # The spheroid is dark on a bright background.
    assert image[mask].mean() < 0.6 * image[~mask].mean()


@pytest.mark.parametrize("radius", [4.0, 20.0, 90.0])
@pytest.mark.parametrize("harmonics", [(), HARMONICS])
def test_mask_area_matches_the_radius(radius: float, harmonics) -> None:
    scene = _scene(bodies=(Body((127.3, 161.6), radius, harmonics),))
    _, mask = _render(scene)
    expected = np.pi * radius**2
    # Pixelation error is at most about one pixel ring around the outline.
    assert abs(int(mask.sum()) - expected) <= 2 * np.pi * radius * 0.5 + 2
    assert _components(mask) == 1
    ys, xs = np.nonzero(mask)
    assert ys.mean() == pytest.approx(127.3, abs=0.1 * radius + 0.5)
    assert xs.mean() == pytest.approx(161.6, abs=0.1 * radius + 0.5)


def test_debris_darkens_the_image_but_never_enters_the_mask() -> None:
    clean = _scene()
    cloud = Debris((128.0, 160.0), 100.0, ((1, 0.1, 0.0), (2, 0.1, 1.0)), 1.0, 0.8, 8)
    dirty = _scene(debris=(cloud,))
    image_clean, mask_clean = _render(clean, seed=4)
    image_dirty, mask_dirty = _render(dirty, seed=4)
    np.testing.assert_array_equal(mask_clean, mask_dirty)
    ring = np.zeros(SHAPE, dtype=np.uint8)
    cv2.circle(ring, (160, 128), 90, 1, thickness=-1)
    cv2.circle(ring, (160, 128), 60, 0, thickness=-1)
    ring_px = ring.astype(bool)
    assert not (ring_px & mask_clean).any()
    assert image_dirty[ring_px].mean() < 0.85 * image_clean[ring_px].mean()


def test_remnant_hidden_in_debris_is_the_mask() -> None:
    remnant = Body((140.0, 170.0), 8.0, HARMONICS, density=1.2)
    cloud = Debris((128.0, 160.0), 90.0, (), 1.0, 1.0, 10)
    _, mask = _render(_scene(bodies=(remnant,), debris=(cloud,)))
    assert _components(mask) == 1
    assert abs(int(mask.sum()) - np.pi * 64) < 30


def test_two_separate_bodies_give_two_objects() -> None:
    bodies = (Body((128.0, 100.0), 30.0), Body((128.0, 220.0), 20.0))
    _, mask = _render(_scene(bodies=bodies))
    assert _components(mask) == 2


def test_artefacts_leave_the_mask_alone() -> None:
    plain = _scene()
    busy = _scene(
        bubble=Bubble((40.0, 40.0), 25.0),
        well_edge=WellEdge((128.0, 440.0), 400.0),  # wall left of x = 40
        defocus_px=4.0,
        vignetting=0.3,
        gradient_yx=(0.1, -0.1),
    )
    _, mask_plain = _render(plain)
    image_busy, mask_busy = _render(busy)
    np.testing.assert_array_equal(mask_plain, mask_busy)
    # The wall beyond the well's edge (left of the image) is dark.
    assert image_busy[:, :10].mean() < 0.6 * image_busy[:, 260:].mean()


def test_body_cut_by_the_border_is_clipped() -> None:
    _, mask = _render(_scene(bodies=(Body((10.0, 10.0), 40.0),)))
    assert 0 < mask.sum() < np.pi * 40**2 / 2


def test_same_scene_and_seed_give_identical_pixels() -> None:
    scene = _scene(debris=(Debris((128.0, 160.0), 80.0, (), 0.6, 0.5, 3),))
    a, ma = _render(scene, seed=11)
    b, mb = _render(scene, seed=11)
    c, _ = _render(scene, seed=12)
    assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(ma, mb)
    assert a.tobytes() != c.tobytes()


@pytest.mark.slow
def test_full_size_render_is_fast() -> None:
    body = Body((515.0, 650.0), 280.0, HARMONICS)
    cloud = Debris((515.0, 650.0), 420.0, ((1, 0.1, 0.0),), 1.0, 0.8, 10)
    scene = Scene((1030, 1300), 1.6, (body,), debris=(cloud,), stray_cells=40)
    _render(scene)
    timings = []
    for seed in range(3):
        start = time.perf_counter()
        _render(scene, seed)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.3


def test_cellular_body_has_a_lighter_bumpy_border_inside_its_mask() -> None:
    """A real-looking spheroid: dense core, translucent border of cells; all of it is mask."""
    smooth = Body((128.0, 160.0), 60.0, HARMONICS, density=1.8)
    cellular = Body((128.0, 160.0), 60.0, HARMONICS, density=1.8, border=0.35, cell_um=10.0)
    image, mask = _render(_scene(bodies=(cellular,), pixel_size_um=1.5), seed=2)
    _, smooth_mask = _render(_scene(bodies=(smooth,), pixel_size_um=1.5), seed=2)
    assert _components(mask) == 1
    # filled: no holes inside the outer border
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros(SHAPE, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    assert np.array_equal(filled > 0, mask)
    # about the outline's area (cells bulge out a little, gaps are bridged)
    assert 0.85 < mask.sum() / smooth_mask.sum() < 1.3
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    r = np.hypot(yy - 128.0, xx - 160.0)
    core = image[r < 25].mean()
    border = image[mask & (r > 48)].mean()
    background = image[r > 110].mean()
    assert core < border < background
    # bumpy: the outline is longer than a smooth one of the same area
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    assert perimeter > 1.15 * 2 * np.pi * np.sqrt(mask.sum() / np.pi)


def test_satellite_is_drawn_but_never_in_the_mask() -> None:
    main = Body((128.0, 120.0), 40.0, density=1.5, border=0.3)
    satellite = Body((128.0, 250.0), 15.0, density=1.2, border=0.5, in_mask=False)
    image, mask = _render(_scene(bodies=(main, satellite), pixel_size_um=2.0))
    _, alone = _render(_scene(bodies=(main,), pixel_size_um=2.0))
    np.testing.assert_array_equal(mask, alone)
    assert image[118:138, 240:260].mean() < 0.8 * image[10:30, 10:30].mean()


def test_loose_border_cells_are_drawn_but_left_out_of_the_mask() -> None:
    """The outer sparse cells are a halo: same pixels, a mask inside the one without it."""
    tight = Body((128.0, 160.0), 60.0, HARMONICS, density=1.8, border=0.35, cell_um=10.0)
    image_all, mask_all = _render(_scene(bodies=(tight,), pixel_size_um=1.5), seed=2)
    image_loose, mask_loose = _render(
        _scene(bodies=(replace(tight, loose=0.4),), pixel_size_um=1.5), seed=2
    )
    np.testing.assert_array_equal(image_all, image_loose)
    assert not (mask_loose & ~mask_all).any()
    assert 0.75 < mask_loose.sum() / mask_all.sum() < 0.97
