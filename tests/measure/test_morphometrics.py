"""Morphometrics of masks with known geometry."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hts.measure.morphometrics import (
    SpheroidMeasurement,
    find_largest,
    largest_object,
    measure_mask,
    measure_object,
)


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


@pytest.mark.parametrize("radius", [20.0, 40.0, 100.0])
def test_disk_has_known_area_diameter_volume(radius: float) -> None:
    m = measure_mask(disk((256, 256), (128, 128), radius), pixel_size_um=1.0)
    # Pixelisation: the digital disk's area is within ~1/r of pi r^2.
    assert m.area_um2 == pytest.approx(math.pi * radius**2, rel=1.5 / radius)
    assert m.diameter_um == pytest.approx(2 * radius, rel=1.0 / radius)
    assert m.volume_um3 == pytest.approx(4 / 3 * math.pi * radius**3, rel=3.0 / radius)
    assert m.volume_um3 == pytest.approx(math.pi * m.diameter_um**3 / 6)
    assert m.perimeter_um == pytest.approx(2 * math.pi * radius, rel=0.1)
    assert (m.centroid_y_px, m.centroid_x_px) == pytest.approx((128, 128), abs=1e-6)
    assert m.n_objects == 1
    assert m.found
    assert not m.touches_border


def test_disk_is_nearly_circular_and_thin_rectangle_is_not() -> None:
    c_disk = measure_mask(disk((256, 256), (128, 128), 60), pixel_size_um=1.0).circularity
    rectangle = np.zeros((64, 256), dtype=bool)
    rectangle[30:34, 20:220] = True
    c_rect = measure_mask(rectangle, pixel_size_um=1.0).circularity
    # Pixel contours overestimate the perimeter: a digital disk reaches ~0.9, not 1.
    assert 0.85 < c_disk <= 1.0
    assert c_rect < 0.1


def test_circularity_is_clipped_to_one_for_tiny_objects() -> None:
    square = np.zeros((8, 8), dtype=bool)
    square[3:5, 3:5] = True
    assert measure_mask(square, pixel_size_um=1.0).circularity == 1.0


@pytest.mark.parametrize("pixel_size_um", [0.5, 1.3, 4.0])
def test_pixel_size_scales_area_by_square_and_diameter_linearly(pixel_size_um: float) -> None:
    mask = disk((128, 160), (60, 70), 30)
    ref = measure_mask(mask, pixel_size_um=1.0)
    m = measure_mask(mask, pixel_size_um=pixel_size_um)
    assert m.area_um2 == pytest.approx(ref.area_um2 * pixel_size_um**2)
    assert m.diameter_um == pytest.approx(ref.diameter_um * pixel_size_um)
    assert m.perimeter_um == pytest.approx(ref.perimeter_um * pixel_size_um)
    assert m.volume_um3 == pytest.approx(ref.volume_um3 * pixel_size_um**3)
    assert m.circularity == pytest.approx(ref.circularity)
    assert (m.centroid_y_px, m.centroid_x_px) == (ref.centroid_y_px, ref.centroid_x_px)


def test_largest_object_keeps_the_largest_and_counts_objects() -> None:
    mask = disk((200, 200), (60, 60), 30) | disk((200, 200), (150, 150), 20)
    mask[5, 190] = True  # a speck, ignored
    obj, n = largest_object(mask)
    assert n == 2
    np.testing.assert_array_equal(obj, disk((200, 200), (60, 60), 30))


def test_largest_object_fills_holes_and_whatever_is_inside_them() -> None:
    ring = disk((100, 100), (50, 50), 30) & ~disk((100, 100), (50, 50), 15)
    island = disk((100, 100), (50, 50), 5)
    obj, n = largest_object(ring | island)
    assert n == 1  # the island lies inside the spheroid's outer border
    np.testing.assert_array_equal(obj, disk((100, 100), (50, 50), 30))


def test_largest_object_does_not_fill_open_concavities() -> None:
    c_shape = np.zeros((40, 40), dtype=bool)
    c_shape[5:35, 5:35] = True
    c_shape[12:28, 12:35] = False
    obj, _ = largest_object(c_shape)
    np.testing.assert_array_equal(obj, c_shape)


def test_min_area_px_ignores_small_objects() -> None:
    mask = np.zeros((50, 50), dtype=bool)
    mask[10:13, 10:13] = True  # 9 px
    mask[30:32, 30:32] = True  # 4 px
    assert largest_object(mask, min_area_px=5)[1] == 1
    assert largest_object(mask, min_area_px=10)[1] == 0
    assert largest_object(mask, min_area_px=1)[1] == 2
    with pytest.raises(ValueError, match="min_area_px"):
        largest_object(mask, min_area_px=0)


def test_empty_mask_gives_no_object() -> None:
    m = measure_mask(np.zeros((32, 32), dtype=np.uint8), pixel_size_um=1.0)
    assert m.n_objects == 0
    assert not m.found
    assert not m.touches_border
    assert all(
        math.isnan(v)
        for v in (m.area_um2, m.perimeter_um, m.diameter_um, m.volume_um3, m.circularity)
    )
    assert not SpheroidMeasurement.no_object().found
    obj, n = largest_object(np.zeros((32, 32), dtype=bool))
    assert n == 0
    assert not obj.any()


def test_touches_border() -> None:
    assert measure_mask(disk((100, 100), (10, 50), 15), pixel_size_um=1.0).touches_border
    assert measure_mask(disk((100, 100), (50, 95), 15), pixel_size_um=1.0).touches_border
    assert not measure_mask(disk((100, 100), (50, 50), 15), pixel_size_um=1.0).touches_border


def test_measure_mask_accepts_numeric_masks_and_validates_input() -> None:
    mask = disk((64, 64), (32, 32), 10)
    a = measure_mask(mask, pixel_size_um=1.0)
    b = measure_mask(mask.astype(np.uint16) * 7, pixel_size_um=1.0)
    assert a == b
    with pytest.raises(ValueError, match="pixel_size_um"):
        measure_mask(mask, pixel_size_um=0.0)
    with pytest.raises(ValueError, match="2-D"):
        measure_mask(mask[None], pixel_size_um=1.0)


masks = arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24)))


@settings(max_examples=150, deadline=None)
@given(masks)
def test_largest_object_is_idempotent_and_covers_every_component(mask: np.ndarray) -> None:
    obj, n = largest_object(mask, min_area_px=1)
    assert obj.dtype == np.bool_
    assert obj.shape == mask.shape
    assert (n == 0) == (not mask.any())
    again, n_again = largest_object(obj, min_area_px=1)
    np.testing.assert_array_equal(again, obj)
    assert n_again == (1 if n else 0)
    if mask.any():
        _, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
        assert obj.sum() >= np.bincount(labels.ravel())[1:].max()
        # The kept object holds one of the mask's components whole.
        assert (obj & mask).any()


def _largest_by_labels(mask: np.ndarray, min_area_px: int) -> tuple[np.ndarray, int]:
    """Reference: every outer contour filled into one full-size label image."""
    binary = (mask != 0).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    labels = np.zeros(mask.shape, dtype=np.int32)
    for index in range(len(contours)):
        cv2.drawContours(labels, contours, index, index + 1, thickness=cv2.FILLED)
    counts = np.bincount(labels.ravel(), minlength=len(contours) + 1)[1:]
    kept = np.flatnonzero(counts >= min_area_px)
    if kept.size == 0:
        return np.zeros(mask.shape, dtype=bool), 0
    return labels == int(kept[np.argmax(counts[kept])]) + 1, int(kept.size)


@settings(max_examples=150, deadline=None)
@given(
    arrays(np.bool_, st.tuples(st.integers(1, 40), st.integers(1, 40))),
    st.integers(1, 12),
)
def test_find_largest_matches_a_full_size_labelling(mask: np.ndarray, min_area_px: int) -> None:
    expected, n_expected = _largest_by_labels(mask, min_area_px)
    found = find_largest(mask, min_area_px=min_area_px)
    np.testing.assert_array_equal(found.full(), expected)
    assert found.n_objects == n_expected
    assert found.found == bool(n_expected)
    m = measure_object(found, pixel_size_um=1.0)
    if n_expected:
        ys, xs = np.nonzero(expected)
        assert (m.centroid_y_px, m.centroid_x_px) == pytest.approx((ys.mean(), xs.mean()))
        assert m.area_um2 == expected.sum()
        edge = expected[0].any() or expected[-1].any() or expected[:, 0].any()
        assert m.touches_border == bool(edge or expected[:, -1].any())
