"""A short text summary of a results store, for the terminal."""

from __future__ import annotations

from pathlib import Path

from hts.measure.qc import flagged_warning, format_flag_counts
from hts.results.key_figures import ResultsFigures, results_figures

__all__ = ["format_summary", "summarise_results"]


def summarise_results(path: Path | str) -> str:
    """Per arm: spheroids, median diameter (um) at the first and last time point; QC counts
    per flag, and a warning when most measured images carry one."""
    from hts.results.store import open_results

    return format_summary(results_figures(open_results(path)), path=path)


def format_summary(figures: ResultsFigures, *, path: Path | str) -> str:
    """The terminal summary of a results store's key figures (`results_figures`)."""
    first, last = 0, figures.n_timepoints - 1

    def when(t: int, day: float | None) -> str:  # the time point's index where its day is unknown
        return f"t{t}" if day is None else f"day {day:.1f}"

    lines = [
        f"results {path}: {figures.n_positions} spheroids x {figures.n_timepoints} time points",
        "status: " + ", ".join(f"{n} {name}" for name, n in figures.status.items() if n),
    ]
    d_first = f"d({when(first, figures.first_day)}) um"
    d_last = f"d({when(last, figures.last_day)}) um"
    lines.append(f"{'arm':<24s} {'n':>3s} {d_first:>14s} {d_last:>14s}")
    for arm in figures.arms:
        lines.append(
            f"{arm.arm:<24s} {arm.n_spheroids:>3d} {arm.median_diameter_first_um:>14.0f} "
            f"{arm.median_diameter_last_um:>14.0f}"
        )
    lines.append(
        f"images with QC flags: {figures.n_flagged} of {figures.n_ok} "
        f"({format_flag_counts(figures.qc_flags)})"
    )
    warning = flagged_warning(figures.n_doubtful, figures.n_ok)
    if warning is not None:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)
