"""Accuracy metrics on masks with known overlap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hts.measure.metrics import (
    SegmentationScore,
    average_radial_error_um,
    compare_masks,
    jaccard_distance,
    relative_circularity_deviation,
    relative_diameter_deviation,
    summarise,
)


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


def test_identical_masks_score_zero() -> None:
    mask = disk((128, 128), (64, 64), 30)
    assert jaccard_distance(mask, mask) == 0.0
    score = compare_masks(mask, mask, pixel_size_um=1.3)
    assert score == SegmentationScore(0.0, 0.0, 0.0, 0.0, invalid=False, ambiguous=False)


def test_disjoint_masks_are_invalid() -> None:
    pred = disk((128, 128), (30, 30), 15)
    target = disk((128, 128), (90, 90), 20)
    assert jaccard_distance(pred, target) == 1.0
    score = compare_masks(pred, target, pixel_size_um=1.0)
    assert score.jcd == 1.0
    assert score.invalid
    assert (score.rdd, score.rcd) == (1.0, 1.0)
    assert not score.ambiguous


def test_half_overlapping_squares_have_known_jcd() -> None:
    pred = np.zeros((40, 60), dtype=bool)
    target = np.zeros((40, 60), dtype=bool)
    pred[10:30, 10:30] = True
    target[10:30, 20:40] = True  # shares half of its area: |P n T| = 200, |P u T| = 600
    assert jaccard_distance(pred, target) == pytest.approx(2 / 3)
    score = compare_masks(pred, target, pixel_size_um=1.0)
    assert score.jcd == pytest.approx(2 / 3)
    assert score.rdd == pytest.approx(0.0)
    assert score.rcd == pytest.approx(0.0)
    # |P xor T| = 400 px around A_T = 400 px.
    expected = math.sqrt(800 / math.pi) - math.sqrt(400 / math.pi)
    assert score.radial_error_um == pytest.approx(expected)


@pytest.mark.parametrize("pixel_size_um", [1.0, 2.5])
def test_radial_error_of_concentric_bigger_disk_is_difference_of_radii(
    pixel_size_um: float,
) -> None:
    target = disk((256, 256), (128, 128), 50)
    pred = disk((256, 256), (128, 128), 60)
    dr = average_radial_error_um(pred, target, pixel_size_um=pixel_size_um)
    assert dr == pytest.approx(10 * pixel_size_um, abs=0.5 * pixel_size_um)
    score = compare_masks(pred, target, pixel_size_um=pixel_size_um)
    assert score.radial_error_um == pytest.approx(dr)
    assert score.rdd == pytest.approx(0.2, abs=0.01)
    assert score.jcd == pytest.approx(1 - 50**2 / 60**2, abs=0.01)
    assert not score.invalid


def test_radial_error_counts_missing_and_extra_area_without_cancelling() -> None:
    target = np.zeros((40, 60), dtype=bool)
    target[10:30, 10:30] = True
    shifted = np.roll(target, 5, axis=1)  # same area, same diameter
    assert average_radial_error_um(shifted, target, pixel_size_um=1.0) > 0
    assert compare_masks(shifted, target, pixel_size_um=1.0).rdd == pytest.approx(0.0)


def test_largest_predicted_object_is_scored_and_extra_objects_are_ambiguous() -> None:
    target = disk((128, 128), (40, 40), 20)
    pred = target | disk((128, 128), (100, 100), 10)
    score = compare_masks(pred, target, pixel_size_um=1.0)
    assert score.ambiguous
    assert score.jcd == 0.0
    assert not score.invalid


def test_empty_masks() -> None:
    empty = np.zeros((64, 64), dtype=bool)
    target = disk((64, 64), (32, 32), 20)
    both = compare_masks(empty, empty, pixel_size_um=1.0)
    assert both == SegmentationScore(0.0, 0.0, 0.0, 0.0, invalid=False, ambiguous=False)
    missed = compare_masks(empty, target, pixel_size_um=1.0)
    assert missed.invalid
    assert (missed.jcd, missed.rdd, missed.rcd) == (1.0, 1.0, 1.0)
    r_target = math.sqrt(target.sum() / math.pi)
    assert missed.radial_error_um == pytest.approx((math.sqrt(2) - 1) * r_target)
    spurious = compare_masks(target, empty, pixel_size_um=1.0)
    assert spurious.invalid
    assert spurious.radial_error_um == pytest.approx(r_target)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        jaccard_distance(np.zeros((4, 4)), np.zeros((4, 5)))


def test_relative_deviations() -> None:
    assert relative_diameter_deviation(110.0, 100.0) == pytest.approx(0.1)
    assert relative_diameter_deviation(300.0, 100.0) == pytest.approx(2.0)  # not bounded by 1
    assert relative_circularity_deviation(0.8, 0.9) == pytest.approx(1 / 9)
    assert math.isnan(relative_diameter_deviation(1.0, 0.0))


def test_summarise_reports_means_stds_and_binomial_errors() -> None:
    scores = [
        SegmentationScore(0.1, 0.02, 0.04, 1.0, invalid=False, ambiguous=False),
        SegmentationScore(0.2, 0.04, 0.02, 3.0, invalid=False, ambiguous=True),
        SegmentationScore(1.0, 1.0, 1.0, 20.0, invalid=True, ambiguous=False),
        SegmentationScore(0.1, 0.02, 0.02, 1.0, invalid=False, ambiguous=False),
    ]
    s = summarise(scores)
    assert s["n"] == 4
    assert s["jcd_mean"] == pytest.approx(0.35)
    assert s["jcd_std"] == pytest.approx(np.std([0.1, 0.2, 1.0, 0.1], ddof=1))
    assert s["radial_error_um_mean"] == pytest.approx(6.25)
    assert s["isf"] == pytest.approx(0.25)
    assert s["asf"] == pytest.approx(0.25)
    assert s["isf_se"] == pytest.approx(math.sqrt(0.25 * 0.75 / 4))
    assert summarise(scores, ddof=0)["rdd_std"] == pytest.approx(np.std([0.02, 0.04, 1.0, 0.02]))


def test_asf_over_one_object_references_leaves_out_true_pairs() -> None:
    """Two predicted objects where the reference holds two spheroids is right, not ambiguous."""
    pair = np.zeros((40, 60), dtype=bool)
    pair[10:20, 5:15] = True
    pair[10:20, 30:45] = True
    one = pair.copy()
    one[:, :25] = False
    right = compare_masks(pair, pair, pixel_size_um=1.0)
    assert right.ambiguous and right.reference_objects == 2 and right.jcd == 0.0
    spurious = compare_masks(pair, one, pixel_size_um=1.0)
    assert spurious.ambiguous and spurious.reference_objects == 1
    clean = compare_masks(one, one, pixel_size_um=1.0)
    s = summarise([right, spurious, clean])
    assert s["asf"] == pytest.approx(2 / 3)
    assert s["n_one"] == 2 and s["asf_one"] == pytest.approx(0.5)
    assert s["asf_one_se"] == pytest.approx(0.5 / math.sqrt(2))


def test_summarise_of_nothing_is_nan() -> None:
    s = summarise([])
    assert s["n"] == 0
    assert s["n_one"] == 0
    assert all(math.isnan(v) for k, v in s.items() if k not in ("n", "n_one"))


masks = st.integers(1, 16).flatmap(
    lambda h: st.integers(1, 16).flatmap(
        lambda w: st.tuples(arrays(np.bool_, (h, w)), arrays(np.bool_, (h, w)))
    )
)


@settings(max_examples=150, deadline=None)
@given(masks)
def test_metric_invariants(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, target = pair
    jcd = jaccard_distance(pred, target)
    assert 0.0 <= jcd <= 1.0
    assert jcd == jaccard_distance(target, pred)
    assert jaccard_distance(pred, pred) == 0.0
    assert average_radial_error_um(pred, target, pixel_size_um=1.0) >= 0.0
    score = compare_masks(pred, target, pixel_size_um=1.0)
    assert 0.0 <= score.jcd <= 1.0
    assert score.invalid == (score.jcd == 1.0)
    assert score.radial_error_um >= 0.0
    assert score.rdd >= 0.0
    assert score.rcd >= 0.0  # never NaN: objects of >= 4 px have a perimeter
    if score.invalid:
        assert (score.rdd, score.rcd) == (1.0, 1.0)
    perfect = compare_masks(pred, pred, pixel_size_um=1.0)
    assert (perfect.jcd, perfect.rdd, perfect.rcd, perfect.radial_error_um) == (0, 0, 0, 0)
    assert not perfect.invalid
