"""Time to a volume multiple and exponential growth rate on exact curves."""

from __future__ import annotations

import math

import numpy as np

from hts.analysis.growth import exponential_growth_rate, time_to_factor

T = np.arange(10, dtype=np.float64)[None] * 24.0


def test_time_to_factor_is_exact_for_exponential_growth() -> None:
    rate = math.log(2.0) / 60.0  # doubling every 60 h
    v = 1e6 * np.exp(rate * T)
    usable = np.ones_like(v, bool)
    reached, followup = time_to_factor(T, v, usable, v[:, 0], np.zeros(1), factor=3.0)
    np.testing.assert_allclose(reached, [60.0 * math.log2(3.0)])
    assert followup[0] == 216.0
    # never reached: NaN, followed up to the last usable point
    usable[:, -1] = False
    reached, followup = time_to_factor(T, v, usable, v[:, 0], np.zeros(1), factor=1e3)
    assert np.isnan(reached[0]) and followup[0] == 192.0


def test_growth_rate_fits_only_the_window_and_usable_points() -> None:
    rate = math.log(2.0) / 48.0
    v = 1e6 * np.exp(rate * T)
    v[0, 6:] = v[0, 5]  # plateau after the window
    usable = np.ones_like(v, bool)
    usable[0, 2] = False
    v[0, 2] *= 10.0  # a flagged outlier that must not count
    fitted = exponential_growth_rate(T, v, usable, np.zeros(1), max_h=120.0)
    np.testing.assert_allclose(fitted, [rate])
    assert np.isnan(exponential_growth_rate(T, v, usable, np.zeros(1), max_h=24.0)[0])
