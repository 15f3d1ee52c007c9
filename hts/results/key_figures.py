"""Key figures of a results store: slot status, QC flags, median diameter per arm.

One computation for every place that shows them: the terminal summary (``hts demo``), the
flows' Markdown artifacts and the HTML report's QC table and chart.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hts.measure.qc import DOUBTFUL_BITS, QC_BITS
from hts.results.schema import Status

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["ArmFigures", "PlateFigures", "ResultsFigures", "results_figures"]


@dataclass(frozen=True)
class ArmFigures:
    """One treatment arm: spheroids, median diameter (um) at the first and latest time point."""

    arm: str
    n_spheroids: int
    median_diameter_first_um: float
    median_diameter_last_um: float


@dataclass(frozen=True)
class PlateFigures:
    """Counts over one plate's slots (all its positions x time points).

    ``status`` counts slots by :class:`~hts.results.Status` name (every status, zeros
    included, in the enum's order); ``qc_flags`` counts measured (``ok``) images carrying each
    flag (`QC_BITS` order); ``n_flagged`` those carrying any.
    """

    plate: str
    status: dict[str, int]
    qc_flags: dict[str, int]
    n_flagged: int

    @property
    def n_ok(self) -> int:
        return self.status.get("ok", 0)


@dataclass(frozen=True)
class ResultsFigures:
    """Counts over a whole results store (all positions x time points).

    ``status`` counts slots by :class:`~hts.results.Status` name; ``qc_flags`` counts
    measured (``ok``) images carrying each flag, over all time points and at the latest.
    ``first_day`` and ``last_day`` are the days of the first and latest time point (None
    when unknown); ``plates`` the same counts per plate, in plate-name order.
    """

    plate: str
    n_positions: int
    n_timepoints: int
    last_day: float | None
    status: dict[str, int]
    qc_flags: dict[str, int]
    qc_flags_last: dict[str, int]
    n_flagged: int
    arms: tuple[ArmFigures, ...]
    #: measured images whose flags put the measurement in doubt (``DOUBTFUL_FLAGS``)
    n_doubtful: int = 0
    first_day: float | None = None
    plates: tuple[PlateFigures, ...] = ()

    @property
    def n_ok(self) -> int:
        return self.status.get("ok", 0)


def _median(values: np.ndarray) -> float:
    with warnings.catch_warnings():  # all-NaN arms give NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmedian(values)) if values.size else math.nan


def _flag_counts(bits: np.ndarray, ok: np.ndarray) -> dict[str, int]:
    """Measured images (``ok``) carrying each flag of `QC_BITS`."""
    return {
        name: int((((bits >> bit) & 1).astype(bool) & ok).sum()) for name, bit in QC_BITS.items()
    }


def _status_counts(status: np.ndarray) -> dict[str, int]:
    return {s.name.lower(): int((status == s).sum()) for s in Status}


def _day(days: np.ndarray | None, t: int) -> float | None:
    day = float(days[t]) if days is not None and 0 <= t < days.size else math.nan
    return None if math.isnan(day) else day


def results_figures(results: xr.Dataset) -> ResultsFigures:
    """Key figures of a results dataset.

    Parameters
    ----------
    results : xarray.Dataset
        A results store (:func:`hts.open_results`, lazy or loaded) or a selection of it:
        ``status``, ``qc_flags`` and ``diameter_um`` over (well, timepoint); the ``arm``,
        ``day`` and ``plate`` coordinates are used where present. Only those are loaded.

    Returns
    -------
    ResultsFigures
    """
    ds = results[["status", "qc_flags", "diameter_um"]].load()
    status = np.asarray(ds.status.values)
    ok = status == Status.OK
    bits = np.asarray(ds.qc_flags.values).astype(np.int64)
    n_w, n_t = status.shape
    last = n_t - 1
    qc_last = _flag_counts(bits[:, last], ok[:, last]) if n_t else dict.fromkeys(QC_BITS, 0)
    diameter = np.asarray(ds.diameter_um.values)
    arm_labels = np.asarray([str(a) for a in ds.arm.values]) if "arm" in ds.coords else None
    arms = []
    if arm_labels is not None and n_t:
        for arm in sorted(set(arm_labels.tolist())):
            sel = diameter[arm_labels == arm]
            arms.append(
                ArmFigures(
                    arm=arm or "(no plate map)",
                    n_spheroids=int(sel.shape[0]),
                    median_diameter_first_um=_median(sel[:, 0]),
                    median_diameter_last_um=_median(sel[:, last]),
                )
            )
    days = np.asarray(ds.day.values, dtype=np.float64) if "day" in ds.coords else None
    name = str(results.attrs.get("plate") or "")
    plate_of = (
        np.array([str(p) for p in ds.plate.values]) if "plate" in ds.coords else np.full(n_w, name)
    )
    plates = tuple(
        PlateFigures(
            plate=plate,
            status=_status_counts(status[rows]),
            qc_flags=_flag_counts(bits[rows], ok[rows]),
            n_flagged=int(((bits[rows] != 0) & ok[rows]).sum()),
        )
        for plate in sorted(set(plate_of.tolist()))
        for rows in [plate_of == plate]
    )
    return ResultsFigures(
        plate=name,
        n_positions=int(n_w),
        n_timepoints=int(n_t),
        last_day=_day(days, last),
        status=_status_counts(status),
        qc_flags=_flag_counts(bits, ok),
        qc_flags_last=qc_last,
        n_flagged=int(((bits != 0) & ok).sum()),
        arms=tuple(arms),
        n_doubtful=int(((bits & DOUBTFUL_BITS != 0) & ok).sum()),
        first_day=_day(days, 0),
        plates=plates,
    )
