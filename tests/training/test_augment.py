"""Photometric augmentation: intensity only, reproducible, and sometimes bright-on-dark."""

from __future__ import annotations

import numpy as np

from hts.testing import disk_image
from training.augment import photometric


def _crop() -> np.ndarray:
    image, _ = disk_image((96, 96), 25.0, seed=1, dtype=np.uint8)
    return image


def test_shape_dtype_and_reproducibility() -> None:
    crop = _crop()
    a = photometric(crop, np.random.default_rng(3))
    b = photometric(crop, np.random.default_rng(3))
    assert a.shape == crop.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_some_crops_are_inverted_and_most_change() -> None:
    crop = _crop()
    _, mask = disk_image((96, 96), 25.0, seed=1, dtype=np.uint8)
    rng = np.random.default_rng(0)
    outs = [photometric(crop, rng) for _ in range(200)]
    inverted = [o[mask].mean() > o[~mask].mean() for o in outs]
    # the disk is dark in the input; about 30 % come out brighter than the background
    assert 0.15 < np.mean(inverted) < 0.45
    assert np.mean([not np.array_equal(o, crop) for o in outs]) > 0.8
