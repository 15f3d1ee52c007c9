"""The report's figures as matplotlib Figures (no pyplot, no global state; imported lazily).

Each function takes the analysis' xarray objects and returns a ``matplotlib.figure.Figure``;
:func:`figure_png` renders one to PNG bytes.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hts.measure.qc import QC_BITS

if TYPE_CHECKING:
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = [
    "figure_png",
    "growth_curves_figure",
    "kaplan_meier_figure",
    "qc_figure",
    "scp_figure",
]

_DAY_H = 24.0


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.9 * i / max(n - 1, 1)) for i in range(n)]


def _legend(ax: Any, **kwargs: Any) -> None:
    """A legend where something is labelled (matplotlib warns on an empty one)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def figure_png(figure: Figure) -> bytes:
    """PNG bytes of a figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def growth_curves_figure(
    curves: xr.Dataset, endpoints: xr.Dataset, *, relapse_factor: float
) -> Figure:
    """Relative volume over time, one panel per arm: each spheroid, its median, QC points.

    Parameters
    ----------
    curves : xarray.Dataset
        :func:`hts.analysis.growth_curves` output.
    endpoints : xarray.Dataset
        :func:`hts.analysis.compute_endpoints` output (arm order and relapse times).
    relapse_factor : float
        Drawn as a dashed threshold line.
    """
    arms = [str(a) for a in endpoints["arm_name"].values]
    n_cols = min(3, max(len(arms), 1))
    n_rows = max(1, math.ceil(len(arms) / n_cols))
    fig = _figure(4.2 * n_cols, 3.2 * n_rows)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    arm_of = np.array([str(a) for a in curves["arm"].values])
    days = curves["image_time_h"].values / _DAY_H
    rel = curves["relative_volume"].values
    usable = curves["usable"].values
    excluded = curves["excluded"].values
    nominal_days = curves["time_h"].values / _DAY_H
    colours = _colours(len(arms))
    for k, arm in enumerate(arms):
        ax = axes[k // n_cols][k % n_cols]
        rows = np.flatnonzero(arm_of == arm)
        for w in rows:
            good = usable[w] & np.isfinite(rel[w])
            ax.plot(days[w][good], rel[w][good], color="0.55", lw=0.7, alpha=0.7)
            bad = excluded[w] & np.isfinite(rel[w])
            ax.plot(days[w][bad], rel[w][bad], "x", color="tab:red", ms=4, mew=1.0)
            at = good & (curves["image_time_h"].values[w] == endpoints["relapse_time_h"].values[w])
            ax.plot(days[w][at], rel[w][at], "o", color="tab:orange", ms=3, alpha=0.8)
        with np.errstate(all="ignore"):
            masked = np.where(usable[rows], rel[rows], np.nan)
            enough = np.isfinite(masked).sum(axis=0) > 0
            median = np.full(masked.shape[1], np.nan)
            if enough.any():
                median[enough] = np.nanmedian(masked[:, enough], axis=0)
        ax.plot(nominal_days, median, color=colours[k], lw=2.5, label="median")
        ax.axhline(relapse_factor, color="k", ls="--", lw=0.8, label=f"{relapse_factor:g} x V0")
        ax.set_yscale("log")
        ax.set_title(f"{arm} (n={rows.size})", fontsize=10)
        ax.grid(True, which="both", alpha=0.2)
        if k % n_cols == 0:
            ax.set_ylabel("V / V(treatment)")
        if k // n_cols == n_rows - 1:
            ax.set_xlabel("days after treatment")
    for k in range(len(arms), n_rows * n_cols):
        axes[k // n_cols][k % n_cols].set_visible(False)
    if arms:
        axes[0][0].plot([], [], "x", color="tab:red", label="QC-flagged (not fitted)")
        axes[0][0].plot([], [], "o", color="tab:orange", ms=3, label="relapse")
        axes[0][0].legend(fontsize=7, loc="upper left")
    return fig


def kaplan_meier_figure(endpoints: xr.Dataset) -> Figure:
    """Relapse-free fraction per arm (Kaplan-Meier) with its confidence band."""
    fig = _figure(6.5, 4.2)
    ax = fig.subplots()
    days = endpoints["time_h"].values / _DAY_H
    arms = [str(a) for a in endpoints["arm_name"].values]
    for k, (arm, colour) in enumerate(zip(arms, _colours(len(arms)), strict=True)):
        surv = endpoints["relapse_free"].values[k]
        if not np.isfinite(surv).any():
            continue
        ax.step(days, surv, where="post", color=colour, lw=2, label=arm)
        ax.fill_between(
            days,
            endpoints["relapse_free_lower"].values[k],
            endpoints["relapse_free_upper"].values[k],
            step="post",
            color=colour,
            alpha=0.15,
        )
    level = float(endpoints.attrs.get("confidence", 0.95))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("days after treatment")
    ax.set_ylabel("relapse-free fraction")
    ax.set_title(f"Kaplan-Meier, {level:.0%} confidence bands", fontsize=10)
    ax.grid(True, alpha=0.3)
    _legend(ax, fontsize=8, loc="lower left")
    return fig


def scp_figure(endpoints: xr.Dataset) -> Figure:
    """Spheroid control probability against dose with its CI, the logistic fit and SCD50."""
    from hts.analysis.dose_response import logistic

    fig = _figure(6.5, 4.2)
    ax = fig.subplots()
    dose = endpoints["dose_level"].values.astype(np.float64)
    unit = str(endpoints["dose_level"].attrs.get("units", ""))
    scp = endpoints["scp"].values
    if dose.size:
        yerr = np.vstack([scp - endpoints["scp_lower"].values, endpoints["scp_upper"].values - scp])
        ax.errorbar(dose, scp, yerr=yerr, fmt="o", color="tab:blue", capsize=4, label="SCP")
        scd50 = float(endpoints["scd50"])
        slope = float(endpoints["scd_slope"])
        if np.isfinite(scd50) and np.isfinite(slope):
            grid = np.linspace(0.0, float(dose.max()) * 1.15, 200)
            ax.plot(grid, logistic(grid, scd50, slope), color="tab:orange", label="logistic fit")
            lo, hi = float(endpoints["scd50_lower"]), float(endpoints["scd50_upper"])
            ax.axvline(scd50, color="tab:red", lw=1, label=f"SCD50 {scd50:.3g} {unit}")
            if np.isfinite(lo) and np.isfinite(hi):
                ax.axvspan(lo, hi, color="tab:red", alpha=0.12, label="SCD50 CI")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(0.0, float(dose.max()) * 1.15 if dose.size else 1.0)
    ax.set_xlabel(f"dose ({unit})" if unit else "dose")
    ax.set_ylabel("spheroid control probability")
    ax.grid(True, alpha=0.3)
    _legend(ax, fontsize=8, loc="upper left")
    return fig


def qc_figure(counts: dict[str, dict[str, int]]) -> Figure:
    """Bar chart: images per QC flag, one bar group per plate.

    Parameters
    ----------
    counts : dict
        ``{plate: {flag: measured images carrying it}}`` (other keys are left out).
    """
    fig = _figure(6.5, 3.2)
    ax = fig.subplots()
    flags = list(QC_BITS)
    plates = list(counts)
    width = 0.8 / max(len(plates), 1)
    x = np.arange(len(flags))
    for k, (plate, colour) in enumerate(zip(plates, _colours(len(plates)), strict=True)):
        values = [counts[plate][f] for f in flags]
        ax.bar(x + k * width - 0.4 + width / 2, values, width, color=colour, label=plate)
    ax.set_xticks(x, [f.replace("_", " ") for f in flags], fontsize=8)
    ax.set_ylabel("images")
    ax.set_title("QC flags per plate", fontsize=10)
    _legend(ax, fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return fig
