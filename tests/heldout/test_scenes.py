import cv2
import numpy as np
import pytest

from hts.heldout.scenes import CATEGORIES, compose_scene

SMALL = (288, 352)


def _outside(mask: np.ndarray, px: int = 6) -> np.ndarray:
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8))
    return grown == 0


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_a_filled_mask_in_the_image(category: str) -> None:
    scene = compose_scene(category, np.random.default_rng(7), shape=SMALL)
    assert scene.density.shape == SMALL and scene.mask.shape == SMALL
    assert scene.mask.sum() > 50
    n, _ = cv2.connectedComponents(scene.mask.astype(np.uint8))
    assert n == 2  # one object (the two touching bodies join)
    holes = cv2.floodFill(np.pad(scene.mask, 1).astype(np.uint8), None, (0, 0), 1)[1][1:-1, 1:-1]
    assert holes.all()  # filled
    assert 1e4 / scene.pixel_size_um == pytest.approx(round(1e4 / scene.pixel_size_um))


def test_debris_lies_outside_the_mask_in_debris_scenes_only() -> None:
    def dark_share(category: str, seed: int) -> float:
        s = compose_scene(category, np.random.default_rng(seed), shape=SMALL)
        out = _outside(s.mask)
        return float((s.density[out] > 0.15).mean())

    for seed in range(2):
        assert dark_share("debris", seed) > 0.01
        assert dark_share("small_remnant", seed) > 0.1
        assert dark_share("clean", seed) < 0.005


def test_small_remnant_sits_in_a_larger_darker_cloud() -> None:
    s = compose_scene("small_remnant", np.random.default_rng(3), shape=(400, 400))
    assert s.pixel_size_um * np.sqrt(4 * s.mask.sum() / np.pi) < 160  # a small remnant
    cloud = _outside(s.mask) & (s.density > 0.3)
    assert cloud.sum() > 2 * s.mask.sum()  # the cloud is larger than the remnant


def test_touching_scene_holds_two_bodies() -> None:
    for seed in range(3):
        s = compose_scene("touching", np.random.default_rng(seed), shape=SMALL)
        assert len(s.body_areas_px) == 2
        a, b = s.body_areas_px
        assert s.mask.sum() > max(a, b) + 0.7 * min(a, b)
        assert s.mask.sum() <= a + b + 0.05 * (a + b)  # filled gaps only


def test_wells_and_annotations() -> None:
    whole = compose_scene("whole_well", np.random.default_rng(0), shape=SMALL)
    assert whole.well is not None and whole.annotation is not None
    assert 3300 <= 2 * whole.well.radius_px * whole.pixel_size_um <= 6400 + 1
    assert (whole.mask & ~whole.well.inside(SMALL)).sum() == 0
    wall = compose_scene("well_wall", np.random.default_rng(0), shape=SMALL)
    assert wall.well is not None and wall.annotation is None
    outside = ~wall.well.inside(SMALL)
    assert outside.any() and (wall.mask & outside).sum() == 0


def test_unknown_category() -> None:
    with pytest.raises(ValueError, match="category"):
        compose_scene("bubbles", np.random.default_rng(0))
