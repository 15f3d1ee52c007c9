"""Relapse or control per spheroid: the first time its volume regrows past a threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["RelapseCalls", "detect_relapse", "first_confirmed_run"]


@dataclass(frozen=True)
class RelapseCalls:
    """Per-spheroid outcome of :func:`detect_relapse`; every array has shape ``(W,)``.

    Attributes
    ----------
    relapsed : bool
        The volume exceeded the threshold within the observation window.
    relapse_time_h : float
        Time of the first image of the confirmed run above the threshold, hours after
        treatment; NaN if not relapsed.
    last_time_h : float
        Time of the last usable image, hours (censoring time of a non-relapsed spheroid);
        NaN without a baseline.
    nadir_volume_um3, nadir_time_h : float
        Smallest usable volume after treatment (up to relapse) and its time.
    threshold_volume_um3 : float
        The threshold that was crossed (at relapse) or that applied at the last image.
    """

    relapsed: np.ndarray
    relapse_time_h: np.ndarray
    last_time_h: np.ndarray
    nadir_volume_um3: np.ndarray
    nadir_time_h: np.ndarray
    threshold_volume_um3: np.ndarray


def first_confirmed_run(above: np.ndarray, min_consecutive: int) -> int:
    """Index of the first run of ``min_consecutive`` True values, or of a shorter run that
    reaches the end of ``above``; -1 if none. ``above`` is ``(N,)`` bool."""
    n = above.size
    for i in np.flatnonzero(above):
        stop = min(i + min_consecutive, n)
        if above[i:stop].all():
            return int(i)
    return -1


def _refine(t: np.ndarray, v: np.ndarray, threshold: np.ndarray, i: int, half: int) -> int:
    """Index of the first point near ``i`` where a log-linear fit exceeds the threshold."""
    lo, hi = max(i - half, 0), min(i + half + 1, t.size)
    if half <= 0 or hi - lo < 3:
        return i
    slope, intercept = np.polyfit(t[lo:hi], np.log(v[lo:hi]), 1)
    if slope <= 0:
        return i
    above = np.flatnonzero(intercept + slope * t[lo:hi] > np.log(threshold[lo:hi]))
    return lo + int(above[0]) if above.size else i


def detect_relapse(
    times_h: np.ndarray,
    volume_um3: np.ndarray,
    usable: np.ndarray,
    baseline_volume_um3: np.ndarray,
    baseline_time_h: np.ndarray,
    *,
    factor: float,
    reference: Literal["treatment", "nadir"] = "treatment",
    min_consecutive: int = 1,
    fit_half_width: int = 0,
) -> RelapseCalls:
    """Call relapse per spheroid from its usable volumes after the baseline.

    Parameters
    ----------
    times_h, volume_um3 : (W, T) float
        Time since treatment (hours) and volume (cubic micrometres) of each image.
    usable : (W, T) bool
        Points that may be used (see :func:`hts.analysis.curves.usable_points`).
    baseline_volume_um3, baseline_time_h : (W,) float
        Volume at treatment and its time; NaN where unknown (nothing is called then).
    factor : float
        Threshold multiple of the reference volume (> 1).
    reference : {"treatment", "nadir"}
        The baseline volume, or the running minimum of the volumes since the baseline.
    min_consecutive : int
        Usable points in a row above the threshold that confirm a relapse.
    fit_half_width : int
        When > 0, the relapse time is refined on a straight line fitted to ``ln V`` over
        the usable points up to this many before and after the first point above the
        threshold: the first of those points where the line is above the threshold. This
        averages out measurement noise near the crossing. 0: the raw first point.

    Returns
    -------
    RelapseCalls
    """
    times = np.asarray(times_h, dtype=np.float64)
    volume = np.asarray(volume_um3, dtype=np.float64)
    n_w = times.shape[0]
    relapsed = np.zeros(n_w, dtype=bool)
    out = {k: np.full(n_w, np.nan) for k in ("t_rel", "t_last", "v_min", "t_min", "thr")}
    for w in range(n_w):
        v0, t0 = float(baseline_volume_um3[w]), float(baseline_time_h[w])
        if not np.isfinite(v0):
            continue
        keep = np.asarray(usable[w], dtype=bool) & (times[w] >= t0)
        order = np.argsort(times[w][keep], kind="stable")
        t, v = times[w][keep][order], volume[w][keep][order]
        ref = np.minimum.accumulate(v) if reference == "nadir" else np.full_like(v, v0)
        threshold = factor * ref
        i = first_confirmed_run(v > threshold, min_consecutive)
        out["t_last"][w] = t[-1]
        seen = slice(None) if i < 0 else slice(0, i + 1)
        k = int(np.argmin(v[seen]))
        out["v_min"][w], out["t_min"][w] = v[seen][k], t[seen][k]
        out["thr"][w] = threshold[-1 if i < 0 else i]
        if i >= 0:
            relapsed[w] = True
            out["t_rel"][w] = t[_refine(t, v, threshold, i, fit_half_width)]
    return RelapseCalls(
        relapsed=relapsed,
        relapse_time_h=out["t_rel"],
        last_time_h=out["t_last"],
        nadir_volume_um3=out["v_min"],
        nadir_time_h=out["t_min"],
        threshold_volume_um3=out["thr"],
    )
