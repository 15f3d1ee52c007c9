"""Kaplan-Meier curves of the relapse-free fraction (lifelines, imported lazily)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["KaplanMeier", "kaplan_meier"]


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier estimate evaluated at given times.

    Attributes
    ----------
    survival, lower, upper : (T,) float
        Event-free fraction and its pointwise confidence interval (lifelines' exponential
        Greenwood interval) at each requested time; NaN without subjects.
    median_h : float
        Median event-free time, hours; inf if the curve never falls to 0.5, NaN without
        subjects.
    n : int
        Subjects with a known duration.
    """

    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    median_h: float
    n: int


def kaplan_meier(
    durations_h: np.ndarray,
    events: np.ndarray,
    times_h: np.ndarray,
    *,
    confidence: float = 0.95,
) -> KaplanMeier:
    """Kaplan-Meier estimate of the event-free fraction.

    Parameters
    ----------
    durations_h : (N,) float
        Event time, or censoring time where there was no event, hours; NaN entries are left
        out.
    events : (N,) bool
        Whether the event (relapse) was observed.
    times_h : (T,) float
        Times to evaluate the curve at, hours (increasing; NaN gives NaN).
    confidence : float

    Returns
    -------
    KaplanMeier
    """
    durations = np.asarray(durations_h, dtype=np.float64)
    known = np.isfinite(durations)
    times = np.asarray(times_h, dtype=np.float64)
    if not known.any():
        nan = np.full(times.shape, np.nan)
        return KaplanMeier(nan, nan.copy(), nan.copy(), math.nan, 0)
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(alpha=1.0 - confidence)
    kmf.fit(durations[known], np.asarray(events, dtype=bool)[known])
    finite = np.isfinite(times)
    survival = np.full(times.shape, np.nan)
    survival[finite] = kmf.survival_function_at_times(times[finite]).to_numpy(dtype=np.float64)
    # the interval is a step function on lifelines' own timeline: look it up at each time
    ci = kmf.confidence_interval_survival_function_
    index = ci.index.to_numpy(dtype=np.float64)
    rows = np.searchsorted(index, times, side="right") - 1
    lower = np.where(rows >= 0, ci.iloc[np.maximum(rows, 0), 0].to_numpy(), 1.0)
    upper = np.where(rows >= 0, ci.iloc[np.maximum(rows, 0), 1].to_numpy(), 1.0)
    lower[~finite] = np.nan
    upper[~finite] = np.nan
    return KaplanMeier(survival, lower, upper, float(kmf.median_survival_time_), int(known.sum()))
