"""Key figures of a results store, and of growth endpoints, as typed records and Markdown.

These are what a scientist reads in the morning: how many images are measured, failed or
still pending, how many carry each QC flag, the median diameter per arm, and the endpoint
summaries when ``hts.analysis`` is installed.
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hts.measure import QC_BITS
from hts.measure.qc import DOUBTFUL_BITS
from hts.results import Status

__all__ = [
    "ArmFigures",
    "EndpointTable",
    "ResultsFigures",
    "endpoint_tables",
    "escape_markdown",
    "markdown_table",
    "results_figures",
]


@dataclass(frozen=True)
class ArmFigures:
    """One treatment arm: spheroids, median diameter (um) at the first and latest time point."""

    arm: str
    n_spheroids: int
    median_diameter_first_um: float
    median_diameter_last_um: float


@dataclass(frozen=True)
class ResultsFigures:
    """Counts over a whole results store (all positions x time points).

    ``status`` counts slots by :class:`hts.results.Status` name; ``qc_flags`` counts
    measured (``ok``) images carrying each flag, over all time points and at the latest.
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

    @property
    def n_ok(self) -> int:
        return self.status.get("ok", 0)


@dataclass(frozen=True)
class EndpointTable:
    """A small table of endpoint figures (per arm, per dose, scalars, per-spheroid summary)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _median(values: np.ndarray) -> float:
    with warnings.catch_warnings():  # all-NaN arms give NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmedian(values)) if values.size else math.nan


def results_figures(results: Any) -> ResultsFigures:
    """Key figures of a results dataset (from :func:`hts.open_results`; loads what it needs)."""
    ds = results[["status", "qc_flags", "diameter_um"]].load()
    status = np.asarray(ds.status.values)
    ok = status == Status.OK
    bits = np.asarray(ds.qc_flags.values).astype(np.int64)
    n_w, n_t = status.shape
    last = n_t - 1
    qc = {name: int((((bits >> bit) & 1).astype(bool) & ok).sum()) for name, bit in QC_BITS.items()}
    qc_last = {
        name: int((((bits[:, last] >> bit) & 1).astype(bool) & ok[:, last]).sum()) if n_t else 0
        for name, bit in QC_BITS.items()
    }
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
    day = float(ds.day.values[last]) if n_t and "day" in ds.coords else math.nan
    return ResultsFigures(
        plate=str(results.attrs.get("plate") or ""),
        n_positions=int(n_w),
        n_timepoints=int(n_t),
        last_day=None if math.isnan(day) else day,
        status={s.name.lower(): int((status == s).sum()) for s in Status},
        qc_flags=qc,
        qc_flags_last=qc_last,
        n_flagged=int(((bits != 0) & ok).sum()),
        arms=tuple(arms),
        n_doubtful=int(((bits & DOUBTFUL_BITS != 0) & ok).sum()),
    )


def _fmt(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _label(name: str, var: Any) -> str:
    units = var.attrs.get("units", "")
    return f"{name} ({units})" if units and units != "1" else name


def endpoint_tables(endpoints: Any) -> tuple[EndpointTable, ...]:
    """Key figures of an endpoints dataset (``hts.analysis.compute_endpoints``'s output).

    Variables over one small dimension (per arm, per dose) become one table per dimension,
    scalars (SCD50 ...) one table, per-spheroid variables counts (fates) or median and
    range. Variables over time (Kaplan-Meier curves) are left to the HTML report.
    """
    scalars: list[tuple[str, ...]] = []
    per_spheroid: list[tuple[str, ...]] = []
    by_dim: dict[str, list[str]] = {}
    for name, var in endpoints.data_vars.items():
        if "timepoint" in var.dims or var.ndim > 1:
            continue
        values = np.asarray(var.values)
        if var.ndim == 0:
            scalars.append((_label(str(name), var), _fmt(values.item())))
        elif var.dims[0] != "well":
            by_dim.setdefault(str(var.dims[0]), []).append(str(name))
        elif values.dtype.kind in "fiu":
            finite = values[np.isfinite(values)]
            stats = (
                (
                    _fmt(float(np.median(finite))),
                    f"{_fmt(float(finite.min()))} - {_fmt(float(finite.max()))}",
                )
                if finite.size
                else ("", "")
            )
            per_spheroid.append((_label(str(name), var), f"{finite.size} of {values.size}", *stats))
        elif values.dtype.kind != "b":
            labels, counts = np.unique(values.astype(str), return_counts=True)
            text = ", ".join(f"{lab} {int(n)}" for lab, n in zip(labels, counts, strict=True))
            per_spheroid.append((str(name), text, "", ""))
    tables = []
    for dim, names in by_dim.items():
        index = [str(v) for v in endpoints[dim].values]
        columns = [np.asarray(endpoints[n].values) for n in names]
        rows = tuple((label, *(_fmt(col[i]) for col in columns)) for i, label in enumerate(index))
        header = (dim, *(_label(n, endpoints[n]) for n in names))
        tables.append(EndpointTable(f"per {dim}", header, rows))
    if scalars:
        tables.append(EndpointTable("plate", ("endpoint", "value"), tuple(scalars)))
    if per_spheroid:
        header = ("per spheroid", "known", "median", "range")
        tables.append(EndpointTable("per spheroid", header, tuple(per_spheroid)))
    return tuple(tables)


#: Markdown's markup characters (``_`` only where it can open or close emphasis: at a
#: word's edge, so ``touches_border`` stays as it is)
_MARKUP = re.compile(r"[\\`*\[\]#~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def escape_markdown(text: object) -> str:
    """Free text (a plate, arm or file name, an error) as plain text inside Markdown.

    One line (whitespace runs become one space); HTML as entities and markup characters
    backslash-escaped, so a name like ``[x](http://...)`` or ``<img ...>`` shows as typed
    and never becomes a link, an image or HTML in the rendered artifact.
    """
    one_line = " ".join(str(text).split())
    return _MARKUP.sub(lambda m: "\\" + m.group(0), html.escape(one_line, quote=False))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; text cells are escaped (`escape_markdown`)."""

    def cell(value: Any) -> str:
        return escape_markdown(_fmt(value)).replace("|", "/")

    lines = [
        "| " + " | ".join(map(cell, header)) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)
