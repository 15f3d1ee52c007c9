"""A short text summary of a results store, for the terminal."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from hts.measure.qc import DOUBTFUL_BITS, count_flags, flagged_warning, format_flag_counts
from hts.results.schema import Status

__all__ = ["summarise_results"]


def summarise_results(path: Path | str) -> str:
    """Per arm: spheroids, median diameter (um) at the first and last time point; QC counts
    per flag, and a warning when most measured images carry one."""
    from hts.results.store import open_results

    ds = open_results(path).load()
    status = ds.status.values
    lines = [
        f"results {path}: {ds.sizes['well']} spheroids x {ds.sizes['timepoint']} time points",
        "status: "
        + ", ".join(
            f"{int((status == s).sum())} {s.name.lower()}" for s in Status if (status == s).any()
        ),
    ]
    days = ds.day.values
    first, last = 0, ds.sizes["timepoint"] - 1

    def when(t: int) -> str:  # the time point's index where its day is unknown
        return f"t{t}" if np.isnan(days[t]) else f"day {days[t]:.1f}"

    lines.append(
        f"{'arm':<24s} {'n':>3s} {f'd({when(first)}) um':>14s} {f'd({when(last)}) um':>14s}"
    )
    for arm in sorted(set(ds.arm.values.tolist())):
        sel = ds.diameter_um.values[ds.arm.values == arm]
        with warnings.catch_warnings():  # an arm with no spheroid found gives NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            d0, d1 = np.nanmedian(sel[:, first]), np.nanmedian(sel[:, last])
        lines.append(f"{arm or '(no plate map)':<24s} {sel.shape[0]:>3d} {d0:>14.0f} {d1:>14.0f}")
    bits = ds.qc_flags.values[status == Status.OK]
    n_flagged, n_ok = int((bits != 0).sum()), int(bits.size)
    lines.append(
        f"images with QC flags: {n_flagged} of {n_ok} ({format_flag_counts(count_flags(bits))})"
    )
    warning = flagged_warning(int((bits.astype(np.int64) & DOUBTFUL_BITS != 0).sum()), n_ok)
    if warning is not None:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)
