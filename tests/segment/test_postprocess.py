"""From a probability map to the measured spheroid: the choice among objects and its flag."""

from __future__ import annotations

import numpy as np
import pytest

from hts.measure.choose import ChoiceParams
from hts.measure.qc import QCFlags
from hts.segment.postprocess import analyse_probability


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


SHAPE = (258, 326)
SPHEROID = disk(SHAPE, (150, 160), 30)
WALL = ~disk(SHAPE, (30 + 625, 163), 625)  # the outside of a well, along the top edge


def test_a_clean_spheroid_raises_no_flag() -> None:
    result = analyse_probability(SPHEROID.astype(np.float32), pixel_size_um=2.0)
    assert result.flags == QCFlags()
    assert result.measurement.area_um2 == pytest.approx(SPHEROID.sum() * 4.0)


def test_the_run_measures_the_spheroid_not_the_larger_well_wall() -> None:
    probability = np.where(SPHEROID | WALL, 0.95, 0.05).astype(np.float32)
    assert WALL.sum() > 2 * SPHEROID.sum()
    result = analyse_probability(probability, pixel_size_um=2.0)
    assert result.measurement.area_um2 == pytest.approx(SPHEROID.sum() * 4.0)
    assert result.flags == QCFlags(multiple_objects=True)
    xs, ys = result.contour[:, 0], result.contour[:, 1]
    assert ys.min() > 100 and np.hypot(ys - 150, xs - 160).max() < 32

    paper = analyse_probability(probability, pixel_size_um=2.0, choice=ChoiceParams(rule="largest"))
    assert paper.measurement.area_um2 == pytest.approx(WALL.sum() * 4.0)
    assert paper.flags == QCFlags(multiple_objects=True, touches_border=True, uncertain_choice=True)


def test_two_similar_objects_make_the_choice_uncertain() -> None:
    twin = disk(SHAPE, (150, 260), 29)
    result = analyse_probability((SPHEROID | twin).astype(np.float32), pixel_size_um=2.0)
    assert result.flags == QCFlags(multiple_objects=True, uncertain_choice=True)
