"""The classical baseline segmenter on clean synthetic brightfield images."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from hts.measure.metrics import compare_masks, jaccard_distance
from hts.measure.morphometrics import measure_mask
from hts.segment.classical import ClassicalConfig, otsu_threshold, segment_classical
from hts.segment.preprocess import resize

PIXEL_SIZE_UM = 1.3


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


def brightfield(
    objects: np.ndarray,
    *,
    seed: int = 0,
    gradient: float = 0.6,
    noise: float = 40.0,
    dtype: type[np.integer] = np.uint16,
    background: float = 3000.0,
) -> np.ndarray:
    """Dark objects (0.4-0.5 of the background) under uneven illumination, with noise."""
    rng = np.random.default_rng(seed)
    shape = objects.shape
    y, x = np.mgrid[: shape[0], : shape[1]]
    yy = y / shape[0] - 0.5
    xx = x / shape[1] - 0.5
    illumination = 1.0 + gradient * xx - 0.5 * gradient * (xx**2 + yy**2)
    texture = 0.4 + 0.1 * rng.random(shape)
    image = background * illumination * np.where(objects, texture, 1.0)
    image = cv2.GaussianBlur(image, (0, 0), 1.5) + rng.normal(0, noise, shape)
    return np.clip(image, 0, np.iinfo(dtype).max).astype(dtype)


@pytest.fixture(scope="module")
def clean_image() -> tuple[np.ndarray, np.ndarray]:
    truth = disk((1030, 1300), (480, 720), 160)
    return brightfield(truth), truth


def test_finds_dark_disk_on_uneven_noisy_background(
    clean_image: tuple[np.ndarray, np.ndarray],
) -> None:
    image, truth = clean_image
    probability = segment_classical(image, pixel_size_um=PIXEL_SIZE_UM)
    assert probability.dtype == np.float32
    assert probability.shape == image.shape
    assert set(np.unique(probability)) <= {0.0, 1.0}
    assert jaccard_distance(probability >= 0.5, truth) < 0.1
    score = compare_masks(probability >= 0.5, truth, pixel_size_um=PIXEL_SIZE_UM)
    assert score.rdd < 0.02
    assert not score.ambiguous


def test_returns_only_the_largest_object() -> None:
    big = disk((400, 500), (200, 300), 70)
    small = disk((400, 500), (80, 80), 30)
    image = brightfield(big | small, seed=1)
    mask = segment_classical(image, pixel_size_um=PIXEL_SIZE_UM) >= 0.5
    assert measure_mask(mask, pixel_size_um=PIXEL_SIZE_UM).n_objects == 1
    assert jaccard_distance(mask, big) < 0.1


@pytest.mark.parametrize(
    ("shape", "radius_px"),
    [((515, 650), 12), ((1030, 1300), 330)],
    ids=["small-31um", "large-860um"],
)
def test_small_and_large_spheroids(shape: tuple[int, int], radius_px: int) -> None:
    truth = disk(shape, (shape[0] / 2, shape[1] / 2), radius_px)
    image = brightfield(truth, seed=2)
    mask = segment_classical(image, pixel_size_um=PIXEL_SIZE_UM) >= 0.5
    assert jaccard_distance(mask, truth) < 0.1


def test_uint8_images_work() -> None:
    truth = disk((300, 400), (150, 200), 60)
    image = brightfield(truth, dtype=np.uint8, background=200.0, noise=3.0, seed=3)
    mask = segment_classical(image, pixel_size_um=PIXEL_SIZE_UM) >= 0.5
    assert jaccard_distance(mask, truth) < 0.1


def test_background_without_spheroid_gives_empty_map() -> None:
    image = brightfield(np.zeros((300, 400), dtype=bool), seed=4)
    assert not segment_classical(image, pixel_size_um=PIXEL_SIZE_UM).any()
    assert not segment_classical(np.full((50, 60), 9, np.uint16), pixel_size_um=1.0).any()


def test_result_scales_with_pixel_size() -> None:
    # The same scene at half the sampling: the diameter in micrometres must agree.
    truth = disk((800, 1000), (400, 480), 150)
    image = brightfield(truth, seed=5, noise=20.0)
    fine = measure_mask(
        segment_classical(image, pixel_size_um=1.0) >= 0.5, pixel_size_um=1.0
    ).diameter_um
    coarse_image = resize(image, scale=0.5)
    coarse = measure_mask(
        segment_classical(coarse_image, pixel_size_um=2.0) >= 0.5, pixel_size_um=2.0
    ).diameter_um
    assert coarse == pytest.approx(fine, rel=0.02)
    assert fine == pytest.approx(300.0, rel=0.02)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="pixel_size_um"):
        segment_classical(np.zeros((8, 8), np.uint8), pixel_size_um=0.0)
    with pytest.raises(ValueError, match="2-D"):
        segment_classical(np.zeros((8, 8, 3), np.uint8), pixel_size_um=1.0)


def test_config_is_data() -> None:
    strict = ClassicalConfig(min_diameter_um=1000.0)
    image = brightfield(disk((300, 400), (150, 200), 60), seed=6)
    assert not segment_classical(image, pixel_size_um=PIXEL_SIZE_UM, config=strict).any()


def test_otsu_threshold_splits_two_modes() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0.3, 0.02, 1000), rng.normal(1.0, 0.02, 3000)])
    assert 0.4 < otsu_threshold(values) < 0.9
    assert otsu_threshold(np.full(10, 2.0)) == 2.0


def test_fast_enough_for_full_size_images(clean_image: tuple[np.ndarray, np.ndarray]) -> None:
    image, _ = clean_image
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            segment_classical(image, pixel_size_um=PIXEL_SIZE_UM)
            timings.append(time.perf_counter() - start)
    finally:
        cv2.setNumThreads(threads)
    assert min(timings) < 0.2
