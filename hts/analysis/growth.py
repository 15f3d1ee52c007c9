"""Growth of a spheroid: time to reach a volume multiple, exponential growth rate."""

from __future__ import annotations

import math

import numpy as np

from hts.analysis.relapse import first_confirmed_run

__all__ = ["exponential_growth_rate", "time_to_factor"]


def _after_baseline(
    times: np.ndarray, volume: np.ndarray, usable: np.ndarray, t0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Usable (time, volume) at or after ``t0``, in time order."""
    keep = usable & (times >= t0)
    order = np.argsort(times[keep], kind="stable")
    return times[keep][order], volume[keep][order]


def time_to_factor(
    times_h: np.ndarray,
    volume_um3: np.ndarray,
    usable: np.ndarray,
    baseline_volume_um3: np.ndarray,
    baseline_time_h: np.ndarray,
    *,
    factor: float,
    min_consecutive: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Time at which each spheroid's volume reaches ``factor`` times its baseline volume.

    The crossing time is interpolated linearly in log volume between the last usable point
    below and the first (confirmed, see :func:`~hts.analysis.relapse.first_confirmed_run`)
    point at or above the target.

    Parameters
    ----------
    times_h, volume_um3 : (W, T) float
        Hours since treatment; cubic micrometres.
    usable : (W, T) bool
    baseline_volume_um3, baseline_time_h : (W,) float
    factor : float
    min_consecutive : int

    Returns
    -------
    time_h : (W,) float
        Hours since treatment; NaN if not reached (or no baseline).
    followup_h : (W,) float
        Time of the last usable point (censoring time when not reached); NaN without
        a baseline.
    """
    times = np.asarray(times_h, dtype=np.float64)
    volume = np.asarray(volume_um3, dtype=np.float64)
    usable = np.asarray(usable, dtype=bool)
    n_w = times.shape[0]
    reached = np.full(n_w, np.nan)
    followup = np.full(n_w, np.nan)
    for w in range(n_w):
        v0, t0 = float(baseline_volume_um3[w]), float(baseline_time_h[w])
        if not np.isfinite(v0):
            continue
        t, v = _after_baseline(times[w], volume[w], usable[w], t0)
        followup[w] = t[-1]
        target = factor * v0
        i = first_confirmed_run(v >= target, min_consecutive)
        if i < 0:
            continue
        if i == 0:
            reached[w] = t[0]
            continue
        lo, hi = math.log(v[i - 1]), math.log(v[i])
        frac = (math.log(target) - lo) / (hi - lo) if hi > lo else 1.0
        reached[w] = t[i - 1] + min(max(frac, 0.0), 1.0) * (t[i] - t[i - 1])
    return reached, followup


def exponential_growth_rate(
    times_h: np.ndarray,
    volume_um3: np.ndarray,
    usable: np.ndarray,
    baseline_time_h: np.ndarray,
    *,
    max_h: float,
    min_points: int = 3,
) -> np.ndarray:
    """Volume growth rate per spheroid: least-squares slope of ``ln V`` against time.

    Parameters
    ----------
    times_h, volume_um3 : (W, T) float
    usable : (W, T) bool
    baseline_time_h : (W,) float
        The fit starts here; NaN: no fit.
    max_h : float
        The fit uses usable points up to this time since treatment, hours.
    min_points : int
        Fewer usable points in the window give NaN.

    Returns
    -------
    (W,) float
        Growth rate, 1/h (doubling time is ``ln 2 / rate``).
    """
    times = np.asarray(times_h, dtype=np.float64)
    volume = np.asarray(volume_um3, dtype=np.float64)
    usable = np.asarray(usable, dtype=bool)
    rate = np.full(times.shape[0], np.nan)
    for w in range(times.shape[0]):
        t0 = float(baseline_time_h[w])
        if not np.isfinite(t0):
            continue
        t, v = _after_baseline(times[w], volume[w], usable[w] & (times[w] <= max_h), t0)
        if t.size >= min_points and np.ptp(t) > 0:
            rate[w] = float(np.polyfit(t, np.log(v), 1)[0])
    return rate
