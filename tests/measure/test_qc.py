"""QC flags: stable bit field, confidence along the border, focus."""

from __future__ import annotations

import dataclasses
import itertools

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hts.measure.choose import choose_spheroid
from hts.measure.morphometrics import measure_mask, measure_object
from hts.measure.qc import QC_BITS, QCFlags, contour_margin, focus_measure, qc_flags

FIELDS = (
    "no_object",
    "multiple_objects",
    "touches_border",
    "low_confidence",
    "out_of_focus",
    "uncertain_choice",
)


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


def brightfield(mask: np.ndarray, *, blur_px: float, seed: int = 0) -> np.ndarray:
    """Dark object on a bright background, optically blurred, with sensor noise."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(np.where(mask, 1500.0, 3000.0), (0, 0), blur_px)
    return (image + rng.normal(0, 30, mask.shape)).astype(np.uint16)


def test_bits_are_stable() -> None:
    for bit, name in enumerate(FIELDS):
        assert QCFlags(**{name: True}).to_bits() == 1 << bit
    assert QCFlags().to_bits() == 0
    assert set(QC_BITS) == {f.name for f in dataclasses.fields(QCFlags)}
    assert not QCFlags().flagged
    assert QCFlags(out_of_focus=True).flagged


def test_bits_round_trip() -> None:
    for values in itertools.product([False, True], repeat=len(FIELDS)):
        flags = QCFlags(**dict(zip(FIELDS, values, strict=True)))
        assert QCFlags.from_bits(flags.to_bits()) == flags


@pytest.mark.parametrize("bits", [-1, 64, 1 << 10])
def test_unknown_bits_raise(bits: int) -> None:
    with pytest.raises(ValueError, match="bit"):
        QCFlags.from_bits(bits)


def test_no_object() -> None:
    mask = np.zeros((64, 64), dtype=bool)
    m = measure_mask(mask, pixel_size_um=1.0)
    flags = qc_flags(mask.astype(np.float32), mask, m, image=np.zeros((64, 64)))
    assert flags == QCFlags(no_object=True)


def test_multiple_objects_and_border() -> None:
    mask = disk((128, 128), (64, 64), 20) | disk((128, 128), (5, 120), 10)
    m = measure_mask(mask, pixel_size_um=1.0)
    assert qc_flags(mask.astype(np.float32), mask, m) == QCFlags(multiple_objects=True)
    edge = disk((128, 128), (64, 0), 30)
    m = measure_mask(edge, pixel_size_um=1.0)
    assert qc_flags(edge.astype(np.float32), edge, m) == QCFlags(touches_border=True)


def test_uncertain_choice_comes_from_the_choice() -> None:
    twins = disk((128, 160), (64, 40), 20) | disk((128, 160), (64, 120), 19)
    m = measure_mask(twins, pixel_size_um=1.0)
    expected = QCFlags(multiple_objects=True, uncertain_choice=True)
    assert qc_flags(twins.astype(np.float32), twins, m) == expected  # the largest, doubted
    clear = disk((128, 160), (64, 40), 20) | disk((128, 160), (64, 120), 6)
    choice = choose_spheroid(clear, clear.astype(np.float32))
    m = measure_object(choice.spheroid, pixel_size_um=1.0)
    flags = qc_flags(clear.astype(np.float32), clear, m, choice=choice)
    assert flags == QCFlags(multiple_objects=True)
    assert QCFlags.from_bits(1 << QC_BITS["uncertain_choice"]) == QCFlags(uncertain_choice=True)


def test_low_confidence_when_probability_hovers_at_one_half() -> None:
    mask = disk((128, 128), (64, 64), 30)
    m = measure_mask(mask, pixel_size_um=1.0)
    crisp = mask.astype(np.float32)
    assert contour_margin(crisp, mask) == pytest.approx(1.0)
    assert not qc_flags(crisp, mask, m).low_confidence
    # A network that is unsure everywhere near the border: 0.45 outside, 0.55 inside.
    unsure = np.where(mask, 0.55, 0.45).astype(np.float32)
    assert contour_margin(unsure, mask) == pytest.approx(0.1, abs=1e-6)
    assert qc_flags(unsure, mask, m).low_confidence
    assert not qc_flags(unsure, mask, m, min_margin=0.05).low_confidence


def test_steep_network_output_is_confident() -> None:
    y, x = np.ogrid[:128, :128]
    signed_distance = 30 - np.hypot(y - 64, x - 64)
    probability = (1 / (1 + np.exp(-2.0 * signed_distance))).astype(np.float32)
    m = measure_mask(probability >= 0.5, pixel_size_um=1.0)
    assert not qc_flags(probability, probability >= 0.5, m).low_confidence


def test_out_of_focus_from_blurred_border() -> None:
    mask = disk((256, 320), (128, 160), 60)
    m = measure_mask(mask, pixel_size_um=1.3)
    probability = mask.astype(np.float32)
    sharp = brightfield(mask, blur_px=1.5)
    blurred = brightfield(mask, blur_px=8.0)
    assert focus_measure(sharp, mask) > 10 * focus_measure(blurred, mask)
    assert not qc_flags(probability, mask, m, image=sharp).out_of_focus
    assert qc_flags(probability, mask, m, image=blurred).out_of_focus
    assert not qc_flags(probability, mask, m).out_of_focus  # no image: not assessed


def test_focus_measure_is_exposure_invariant() -> None:
    mask = disk((128, 128), (64, 64), 30)
    image = brightfield(mask, blur_px=1.5)
    scaled = (image.astype(np.float64) * 3 + 100).astype(np.uint16)
    assert focus_measure(scaled, mask) == pytest.approx(focus_measure(image, mask), rel=1e-3)
    assert focus_measure(np.full((32, 32), 7, dtype=np.uint16)) == 0.0


def _band_full(obj: np.ndarray, band_px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1,) * 2)
    binary = obj.astype(np.uint8)
    outer = cv2.dilate(binary, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    inner = cv2.erode(binary, kernel, borderType=cv2.BORDER_REPLICATE)
    return (outer != 0) & (inner == 0)


def _focus_full(image: np.ndarray, obj: np.ndarray) -> float:
    """Reference: the focus measure computed over the whole image, then read in the band."""
    work = image.astype(np.float32)
    lo, hi = np.percentile(image[::2, ::2], [0.5, 99.5])
    work = (work - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    laplacian = cv2.Laplacian(cv2.GaussianBlur(work, (0, 0), sigmaX=2.0), cv2.CV_32F, ksize=1)
    return float(laplacian[_band_full(obj, 5)].var())


@pytest.mark.parametrize("centre", [(128, 160), (20, 300), (250, 5)])  # inside, at edges
def test_border_measures_on_a_window_equal_the_whole_image(centre: tuple[int, int]) -> None:
    mask = disk((256, 320), centre, 40)
    image = brightfield(mask, blur_px=2.0)
    rng = np.random.default_rng(1)
    probability = np.clip(mask + rng.normal(0, 0.2, mask.shape), 0, 1).astype(np.float32)
    assert focus_measure(image, mask) == pytest.approx(_focus_full(image, mask), rel=1e-5)
    expected = float(np.mean(np.abs(probability[_band_full(mask, 3)] - 0.5)) * 2)
    assert contour_margin(probability, mask) == pytest.approx(expected, rel=1e-6)


@settings(max_examples=300, deadline=None)
@given(
    arrays(st.sampled_from([np.uint8, np.uint16]), st.integers(1, 3000)),
    st.floats(0.0, 100.0),
    st.floats(0.0, 100.0),
)
def test_histogram_percentiles_are_numpys(values: np.ndarray, q1: float, q2: float) -> None:
    """The focus measure's exposure range from a histogram: np.percentile's numbers."""
    from hts.measure.qc import _percentiles

    expected = tuple(float(v) for v in np.percentile(values, (q1, q2)))
    assert _percentiles(values, (q1, q2)) == expected
    floats = values.astype(np.float32)
    assert _percentiles(floats, (q1, q2)) == tuple(
        float(v) for v in np.percentile(floats, (q1, q2))
    )
