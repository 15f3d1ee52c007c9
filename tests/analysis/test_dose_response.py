"""Binomial intervals and the logistic SCD50 fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hts.analysis.dose_response import binomial_ci, fit_logistic, logistic


def test_clopper_pearson_known_values() -> None:
    lower, upper = binomial_ci(np.array([0, 10, 5, 0]), np.array([10, 10, 10, 0]))
    np.testing.assert_allclose(upper[0], 1.0 - 0.025 ** (1 / 10))
    np.testing.assert_allclose(lower[1], 0.025 ** (1 / 10))
    assert lower[0] == 0.0 and upper[1] == 1.0
    np.testing.assert_allclose([lower[2], upper[2]], [0.187086, 0.812914], atol=1e-6)
    assert np.isnan(lower[3]) and np.isnan(upper[3])


def test_logistic_is_half_at_scd50() -> None:
    np.testing.assert_allclose(logistic(np.array([5.0, 5.0 + 1e3]), 5.0, 1.2), [0.5, 1.0])


def test_fit_recovers_a_large_sample() -> None:
    rng = np.random.default_rng(4)
    dose = np.repeat([2.0, 4.0, 6.0, 8.0], 500)
    controlled = rng.random(dose.size) < logistic(dose, 5.0, 0.9)
    fit = fit_logistic(dose, controlled)
    assert fit.converged and fit.n == dose.size
    assert fit.scd50 == pytest.approx(5.0, abs=0.25)
    assert fit.slope == pytest.approx(0.9, rel=0.2)
    assert fit.ci_lower < 5.0 < fit.ci_upper
    # profile interval and Wald interval roughly agree on a large sample
    assert fit.ci_upper - fit.ci_lower == pytest.approx(2 * 1.96 * fit.se, rel=0.2)


def test_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    dose = np.repeat([2.5, 5.0, 7.5, 10.0], 30)
    hits = []
    for _ in range(60):
        fit = fit_logistic(dose, rng.random(dose.size) < logistic(dose, 5.0, 1.2))
        hits.append(fit.ci_lower <= 5.0 <= fit.ci_upper)
    assert 0.85 <= np.mean(hits) <= 1.0


def test_undetermined_fits_are_nan() -> None:
    for dose, y in (
        (np.array([1.0, 2.0, 3.0]), np.array([True, True, True])),
        (np.array([2.0, 2.0, 2.0]), np.array([True, False, True])),
        (np.array([]), np.array([], bool)),
    ):
        fit = fit_logistic(dose, y)
        assert not fit.converged and np.isnan(fit.scd50)


def test_a_fit_without_a_dose_trend_gives_an_open_interval_not_an_error() -> None:
    """Control, relapse, control at rising doses (a 4-well demo plate): no crash, NaN bounds."""
    fit = fit_logistic(np.array([2.5, 5.0, 7.5]), np.array([True, False, True]))
    assert fit.n == 3
    assert math.isnan(fit.ci_lower) or fit.ci_lower <= fit.scd50
    assert math.isnan(fit.ci_upper) or fit.ci_upper >= fit.scd50
