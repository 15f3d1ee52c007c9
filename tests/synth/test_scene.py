"""Tests for hts.synth.scene: scenes follow the history, images regenerate alone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hts.synth.growth import Scenario, imaging_times_h, simulate_plate
from hts.synth.scene import ImagingConditions, sample_scene, synthesize_image
from hts.wells import WellId

SHAPE = (256, 320)
UM = 6.4  # coarse pixels keep 300-1000 um spheroids inside a small image
WELLS = tuple(WellId(1, c) for c in range(2, 12))


@pytest.fixture(scope="module")
def histories():
    scenario = Scenario(twin_probability=0.0)
    return simulate_plate(WELLS, times_h=imaging_times_h(8), scenario=scenario, seed=5)


def test_scene_follows_the_history(histories) -> None:
    for h in histories:
        for k in (0, 4, 7):
            scene = sample_scene(h, k, seed=5, shape=SHAPE, pixel_size_um=UM)
            (body,) = scene.bodies
            assert body.radius_px == pytest.approx(h.diameter_um[k] / 2 / UM)
            assert scene.shape == SHAPE
            assert scene.pixel_size_um == UM
            amounts = [cloud.amount for cloud in scene.debris]
            if h.debris[k] > 0:
                assert max(amounts) == pytest.approx(min(1.0, 1.3 * h.debris[k]))
            else:
                assert amounts == []


def test_mask_diameter_matches_the_history(histories) -> None:
    for h in histories[::3]:
        for k in (0, 7):
            _, mask, _ = synthesize_image(h, k, seed=5, shape=SHAPE, pixel_size_um=UM)
            d_mask = math.sqrt(4 * mask.sum() / math.pi) * UM
            assert d_mask == pytest.approx(h.diameter_um[k], rel=0.04, abs=2 * UM)


def test_synthesize_image_is_deterministic_and_order_free(histories) -> None:
    h = histories[4]
    first = synthesize_image(h, 3, seed=9, shape=SHAPE, pixel_size_um=UM)
    synthesize_image(histories[0], 1, seed=9, shape=SHAPE, pixel_size_um=UM)  # interleave
    again = synthesize_image(h, 3, seed=9, shape=SHAPE, pixel_size_um=UM)
    assert first[0].tobytes() == again[0].tobytes()
    np.testing.assert_array_equal(first[1], again[1])
    assert first[2] == again[2]
    other_seed = synthesize_image(h, 3, seed=10, shape=SHAPE, pixel_size_um=UM)
    other_field = synthesize_image(h, 3, seed=9, field=2, shape=SHAPE, pixel_size_um=UM)
    assert first[0].tobytes() != other_seed[0].tobytes()
    assert first[0].tobytes() != other_field[0].tobytes()


def test_spheroid_keeps_its_place_across_days(histories) -> None:
    h = histories[0]
    centres = [
        sample_scene(h, k, seed=1, shape=SHAPE, pixel_size_um=UM).bodies[0].centre_yx
        for k in range(8)
    ]
    spread = np.ptp(np.array(centres), axis=0)
    assert np.all(spread < 20)


def test_forced_artefacts_never_hide_the_spheroid(histories) -> None:
    imaging = ImagingConditions(
        defocus_probability=1.0, bubble_probability=1.0, well_edge_probability=1.0
    )
    seen_edge = seen_bubble = False
    for h in histories:
        scene = sample_scene(h, 2, seed=2, shape=SHAPE, pixel_size_um=UM, imaging=imaging)
        body = scene.bodies[0]
        assert scene.defocus_px > 0
        if scene.bubble is not None:
            seen_bubble = True
            gap = math.dist(scene.bubble.centre_yx, body.centre_yx)
            assert gap > scene.bubble.radius_px + body.radius_px
        if scene.well_edge is not None:
            seen_edge = True
            inside = math.dist(scene.well_edge.centre_yx, body.centre_yx) + body.radius_px
            assert inside < scene.well_edge.radius_px
    assert seen_edge and seen_bubble


def test_twin_spheroids_appear_as_second_body() -> None:
    scenario = Scenario(twin_probability=1.0)
    (h,) = simulate_plate(WELLS[:1], times_h=imaging_times_h(3), scenario=scenario, seed=0)
    scene = sample_scene(h, 0, seed=0, shape=SHAPE, pixel_size_um=UM)
    assert len(scene.bodies) == 2
    assert scene.bodies[1].radius_px == pytest.approx(h.twin_ratio * scene.bodies[0].radius_px)
