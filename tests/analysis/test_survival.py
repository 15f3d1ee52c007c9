"""Kaplan-Meier against a hand computation."""

from __future__ import annotations

import numpy as np

from hts.analysis.survival import kaplan_meier


def test_kaplan_meier_matches_the_product_limit() -> None:
    durations = np.array([24.0, 48.0, 48.0, 96.0, 120.0, np.nan])
    events = np.array([True, True, False, True, False, True])
    km = kaplan_meier(durations, events, np.array([0.0, 24.0, 48.0, 72.0, 96.0, 144.0]))
    # at risk 5: event at 24 -> 4/5; at 48 one event of 4 -> 3/5; at 96 one of 2 -> 3/10
    np.testing.assert_allclose(km.survival, [1.0, 0.8, 0.6, 0.6, 0.3, 0.3])
    assert km.n == 5 and km.median_h == 96.0
    assert (km.lower <= km.survival + 1e-12).all() and (km.survival <= km.upper + 1e-12).all()
    assert km.lower[-1] < 0.3 < km.upper[-1]


def test_no_event_and_no_subject() -> None:
    km = kaplan_meier(np.array([96.0, 96.0]), np.array([False, False]), np.array([0.0, 96.0]))
    np.testing.assert_allclose(km.survival, [1.0, 1.0])
    assert km.median_h == np.inf
    empty = kaplan_meier(np.array([np.nan]), np.array([True]), np.array([0.0, 24.0]))
    assert empty.n == 0 and np.isnan(empty.survival).all()


def test_unknown_evaluation_times_give_nan() -> None:
    km = kaplan_meier(
        np.array([24.0, 48.0]), np.array([True, False]), np.array([0.0, np.nan, 48.0])
    )
    np.testing.assert_allclose(km.survival, [1.0, np.nan, 0.5])
    assert np.isnan(km.lower[1]) and np.isnan(km.upper[1])
