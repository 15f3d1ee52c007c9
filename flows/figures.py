"""Growth endpoints as key-figure tables, and Markdown for the flows' artifacts.

The results store's own key figures (images measured, failed or pending, QC flags, median
diameter per arm) are :func:`hts.results.results_figures`; this module adds the endpoint
summaries when ``hts.analysis`` is installed, and renders both as Markdown.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["EndpointTable", "endpoint_tables", "escape_markdown", "markdown_table"]


@dataclass(frozen=True)
class EndpointTable:
    """A small table of endpoint figures (per arm, per dose, scalars, per-spheroid summary)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


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
