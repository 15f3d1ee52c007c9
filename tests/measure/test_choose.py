"""Choosing the spheroid: the robust score against well walls and debris, the paper's rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hts.measure.choose import ChoiceParams, choose_spheroid
from hts.measure.morphometrics import find_largest

LARGEST = ChoiceParams(rule="largest")
SHAPE = (258, 326)  # a 1030 x 1300 image at a quarter of its size


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


def outside_well(shape: tuple[int, int], *, depth: float, radius: float) -> np.ndarray:
    """The dark outside of a large well whose wall comes ``depth`` px into the top edge."""
    return ~disk(shape, (depth + radius, shape[1] / 2), radius)


def crescent(shape: tuple[int, int]) -> np.ndarray:
    """A thick arc hugging the left edge: what a thresholded well wall often looks like."""
    h = shape[0]
    return disk(shape, (h / 2, -0.6 * h), 0.95 * h) & ~disk(shape, (h / 2, -0.6 * h), 0.8 * h)


WALLS = {
    "band": outside_well(SHAPE, depth=30, radius=625),  # a 1030 x 1300 well wall, scaled
    "corner": ~disk(SHAPE, (0.85 * SHAPE[0], 0.8 * SHAPE[1]), 0.65 * SHAPE[1]),
    "crescent": crescent(SHAPE),
}


def _orientations(mask: np.ndarray) -> list[np.ndarray]:
    return [mask, mask[::-1], mask[:, ::-1], mask[::-1, ::-1]]


@pytest.mark.parametrize("wall_name", list(WALLS))
def test_robust_choice_takes_the_spheroid_not_a_larger_well_wall(wall_name: str) -> None:
    wall = WALLS[wall_name]
    spheroid = disk(SHAPE, (140, 180), 30)
    assert not (wall & spheroid).any()
    assert wall.sum() > 2 * spheroid.sum()  # the paper's rule picks the wall
    for mask, sph in zip(_orientations(wall | spheroid), _orientations(spheroid), strict=True):
        robust = choose_spheroid(mask)
        np.testing.assert_array_equal(robust.spheroid.full(), sph)
        assert robust.spheroid.n_objects == 2 and robust.index != robust.largest
        assert not robust.uncertain
        paper = choose_spheroid(mask, params=LARGEST)
        assert not (paper.spheroid.full() & sph).any()
        assert paper.index == paper.largest == robust.largest
        assert paper.uncertain  # the robust score doubts the largest object


@pytest.mark.parametrize("wall_name", list(WALLS))
def test_a_lone_well_wall_is_chosen_but_uncertain(wall_name: str) -> None:
    choice = choose_spheroid(WALLS[wall_name])
    assert choice.spheroid.found and choice.candidates[choice.index].looks_like_wall(ChoiceParams())
    assert choice.uncertain


@pytest.mark.parametrize("centre", [(0, 160), (129, 0), (257, 100), (100, 325), (20, 160)])
def test_a_spheroid_cut_by_the_border_is_still_chosen(centre: tuple[int, int]) -> None:
    spheroid = disk(SHAPE, centre, 40)
    specks = disk(SHAPE, (200, 60), 4) | disk(SHAPE, (60, 250), 6) | disk(SHAPE, (230, 280), 3)
    choice = choose_spheroid(spheroid | specks)
    np.testing.assert_array_equal(choice.spheroid.full(), spheroid)
    assert choice.spheroid.n_objects == 4
    assert not choice.uncertain
    alone = choose_spheroid(spheroid)
    assert alone.candidates[0].border_ratio <= 1.5 and not alone.uncertain


def test_a_half_disk_touches_the_border_along_1_41_equivalent_diameters() -> None:
    (half,) = choose_spheroid(disk((400, 400), (0, 200), 150)).candidates
    assert half.border_ratio == pytest.approx(math.sqrt(2), rel=0.02)
    assert half.solidity > 0.98 and half.thickness == 1.0  # the border does not bound it


def test_a_blob_cut_by_the_edge_loses_to_a_smaller_centred_spheroid() -> None:
    """The dark outside of a well often ends in a blob cut by the image edge."""
    blob = disk(SHAPE, (SHAPE[0] - 1, 280), 45)  # half of it inside, near a corner
    spheroid = disk(SHAPE, (125, 160), 30)
    assert blob.sum() > spheroid.sum()
    choice = choose_spheroid(blob | spheroid)
    np.testing.assert_array_equal(choice.spheroid.full(), spheroid)
    assert choice.index != choice.largest
    # Without the border and centre terms the larger blob wins.
    plain = ChoiceParams(border_weight=0.0, wall_weight=0.0, centre_weight=0.0)
    assert choose_spheroid(blob | spheroid, params=plain).index == choice.largest


@pytest.mark.parametrize("rule", ["robust", "largest"])
def test_two_similar_disks_make_the_choice_uncertain(rule: str) -> None:
    mask = disk(SHAPE, (130, 90), 30) | disk(SHAPE, (130, 230), 28)
    choice = choose_spheroid(mask, params=ChoiceParams(rule=rule))  # type: ignore[arg-type]
    assert choice.uncertain
    assert choice.index == 0 or choice.index == 1
    # Far apart in size, the choice is clear.
    clear = choose_spheroid(disk(SHAPE, (130, 90), 30) | disk(SHAPE, (130, 230), 12))
    assert not clear.uncertain


def test_a_clean_disk_is_certain_and_keeps_its_area_as_score() -> None:
    mask = disk(SHAPE, (129, 163), 50)
    choice = choose_spheroid(mask, mask.astype(np.float32))
    (only,) = choice.candidates
    assert not choice.uncertain and choice.index == choice.largest == 0
    assert only.solidity > 0.98 and only.thickness > 0.97 and only.border_ratio == 0
    assert only.mean_probability == pytest.approx(1.0)
    assert only.score == pytest.approx(math.log(only.area_px), abs=0.06)


def test_the_map_prefers_the_confident_of_two_equal_objects() -> None:
    left, right = disk(SHAPE, (130, 90), 30), disk(SHAPE, (130, 230), 30)
    probability = np.where(left, 0.6, np.where(right, 0.99, 0.0)).astype(np.float32)
    choice = choose_spheroid(probability >= 0.5, probability)
    np.testing.assert_array_equal(choice.spheroid.full(), right)
    assert not choice.uncertain
    assert sorted(c.mean_probability for c in choice.candidates) == pytest.approx([0.6, 0.99])


def test_a_larger_ragged_debris_cloud_loses() -> None:
    rng = np.random.default_rng(1)
    cloud = np.zeros(SHAPE, dtype=bool)
    for _ in range(60):  # clumps of dead cells around a centre
        r, angle = rng.uniform(0, 55), rng.uniform(0, 2 * np.pi)
        centre = (130 + r * np.sin(angle), 230 + r * np.cos(angle))
        cloud |= disk(SHAPE, centre, rng.uniform(4, 9))
    spheroid = disk(SHAPE, (130, 70), 35)
    probability = np.where(spheroid, 0.97, np.where(cloud, 0.7, 0.1)).astype(np.float32)
    mask = probability >= 0.5
    assert not (find_largest(mask).full() & spheroid).any()  # the paper's rule: the cloud
    choice = choose_spheroid(mask, probability)
    np.testing.assert_array_equal(choice.spheroid.full(), spheroid)
    assert not choice.uncertain


def test_empty_mask_and_probability_shape() -> None:
    choice = choose_spheroid(np.zeros((20, 30), dtype=bool))
    assert not choice.spheroid.found and choice.index == choice.largest == -1
    assert choice.candidates == () and not choice.uncertain
    with pytest.raises(ValueError, match="shapes differ"):
        choose_spheroid(disk((20, 30), (10, 10), 4), np.zeros((20, 31)))


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="rule"):
        ChoiceParams(rule="smallest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="uncertain_ratio"):
        ChoiceParams(uncertain_ratio=1.0)
    with pytest.raises(ValueError, match="border_weight, centre_weight must be >= 0"):
        ChoiceParams(border_weight=-1.0, centre_weight=math.nan)


masks = arrays(np.bool_, st.tuples(st.integers(1, 40), st.integers(1, 40)))


@settings(max_examples=150, deadline=None)
@given(masks, st.integers(1, 12))
def test_the_paper_rule_is_find_largest(mask: np.ndarray, min_area_px: int) -> None:
    expected = find_largest(mask, min_area_px=min_area_px)
    got = choose_spheroid(mask, params=LARGEST, min_area_px=min_area_px).spheroid
    np.testing.assert_array_equal(got.full(), expected.full())
    assert (got.box, got.n_objects, got.found) == (expected.box, expected.n_objects, expected.found)


@settings(max_examples=150, deadline=None)
@given(masks)
def test_robust_takes_the_best_score_among_well_formed_candidates(mask: np.ndarray) -> None:
    probability = mask * np.float32(0.8)
    choice = choose_spheroid(mask, probability, min_area_px=1)
    assert (
        len(choice.candidates)
        == choice.spheroid.n_objects
        == find_largest(mask, min_area_px=1).n_objects
    )
    if not choice.candidates:
        return
    scores = [c.score for c in choice.candidates]
    assert choice.candidates[choice.index].score == max(scores)
    assert choice.candidates[choice.largest].area_px == max(c.area_px for c in choice.candidates)
    assert choice.spheroid.crop.sum() == choice.candidates[choice.index].area_px
    for c in choice.candidates:
        assert math.isfinite(c.score) and c.score <= math.log(c.area_px) + 1e-9
        assert 0 < c.solidity <= 1 and 0 < c.thickness <= 1 and c.border_ratio >= 0
        assert 0 <= c.mean_probability <= 0.8 + 1e-6  # holes are filled, their p is 0
    if len(choice.candidates) == 1:
        assert choice.index == choice.largest == 0


AREA_ONLY = ChoiceParams(
    solidity_power=0.0, thickness_power=0.0, border_weight=0.0, wall_weight=0.0, centre_weight=0.0
)


@settings(max_examples=100, deadline=None)
@given(masks)
def test_with_every_weight_zero_the_score_is_the_area(mask: np.ndarray) -> None:
    robust = choose_spheroid(mask, params=AREA_ONLY)
    assert robust.index == robust.largest
    for c in robust.candidates:
        assert c.score == pytest.approx(math.log(c.area_px))
