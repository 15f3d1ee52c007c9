"""Domain-randomised training samples: reproducible, with exact masks, walls on request."""

from __future__ import annotations

import cv2
import numpy as np

from hts.segment.preprocess import minmax_to_uint8
from hts.synth.training import training_sample

SHAPE = (256, 320)


def _dark_outside_fraction(seed: int, index: int, well_edge_probability: float) -> float:
    """Fraction of pixels far from the spheroid darker than half the background level."""
    sample = training_sample(seed, index, shape=SHAPE, well_edge_probability=well_edge_probability)
    gray = minmax_to_uint8(sample.image).astype(np.float64)
    far = cv2.dilate(sample.mask.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    return float(np.mean(gray[far] < 0.5 * np.median(gray[far])))


def test_same_seed_and_index_give_the_same_sample() -> None:
    a, b = training_sample(5, 3, shape=SHAPE), training_sample(5, 3, shape=SHAPE)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert a.mask.any() and a.category in {"clean", "debris"}
    # the default wall probability is 0.2: naming it changes nothing
    c = training_sample(5, 3, shape=SHAPE, well_edge_probability=0.2)
    assert np.array_equal(a.image, c.image)


def test_well_edge_probability_brings_the_dark_outside_of_a_well_wall() -> None:
    never = [_dark_outside_fraction(5, i, 0.0) for i in range(10)]
    always = [_dark_outside_fraction(5, i, 1.0) for i in range(10)]
    assert max(never) < 0.1
    # not every wall falls inside the field of view, but several do
    assert sum(f > 0.1 for f in always) >= 3
