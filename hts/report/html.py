"""The HTML report: one self-contained file (figures inlined as base64 PNG, no scripts,
no external resources), plus the figures as PNG files beside it."""

from __future__ import annotations

import base64
import html
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hts import __version__
from hts.analysis.params import EndpointParams

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from hts.report.montage import Montage
    from hts.results.key_figures import ResultsFigures

__all__ = [
    "RenderedReport",
    "qc_counts",
    "render_html",
    "render_report",
    "time_problem",
    "write_report",
]

log = logging.getLogger(__name__)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1280px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td.text, th.text { text-align: left; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
p.note { color: #555; font-size: 0.9em; }
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "not reached" if v > 0 else "-inf"
        return f"{v:.{digits}g}"
    return str(value)


def _day(day: Any) -> str:
    """A day after treatment for a caption or cell: ``"2.5"``, or ``"unknown"``."""
    value = float(day)
    return "unknown" if math.isnan(value) else f"{value:.1f}"


def time_problem(results: xr.Dataset) -> str | None:
    """Why growth, relapse and control cannot be measured on these results (None: they can).

    They need two or more time points whose time since treatment is known.
    """
    known = np.isfinite(np.asarray(results["time_h"].values, dtype=np.float64))
    if not known.any():
        return (
            "the time since treatment is unknown (no treatment time was given): ingest with "
            "--treated-at, or a plate map with a treated_at column"
        )
    if known.sum() < 2:
        return "the plate has one time point; growth, relapse and control need two or more"
    return None


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _table(header: list[str], rows: list[list[Any]], *, text_columns: int = 1) -> str:
    def cell(tag: str, k: int, value: Any) -> str:
        cls = ' class="text"' if k < text_columns else ""
        return f"<{tag}{cls}>{html.escape(_fmt(value))}</{tag}>"

    head = "".join(cell("th", k, h) for k, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", k, v) for k, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def render_html(
    *,
    title: str,
    summary: list[tuple[str, str]],
    sections: list[tuple[str, str]],
) -> str:
    """A complete HTML page.

    Parameters
    ----------
    title : str
    summary : list of (label, value)
        Shown as a table under the title.
    sections : list of (heading, HTML body)
        Bodies are trusted HTML (built here, with every data string escaped).
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _table(["", ""], [list(row) for row in summary]),
    ]
    for heading, body in sections:
        parts.append(f"<section><h2>{html.escape(heading)}</h2>{body}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def qc_counts(figures: ResultsFigures) -> dict[str, dict[str, int]]:
    """``{plate: {column: images}}`` of the QC table: ``measured`` (status OK), ``flagged``
    (any flag), one entry per flag (measured images carrying it), ``failed``, ``no_image``."""
    return {
        p.plate: {
            "measured": p.n_ok,
            "flagged": p.n_flagged,
            **p.qc_flags,
            "failed": p.status["failed"],
            "no_image": p.status["no_image"],
        }
        for p in figures.plates
    }


def _arm_rows(endpoints: xr.Dataset) -> list[list[Any]]:
    rows = []
    for k, arm in enumerate(endpoints["arm_name"].values):

        def v(name: str, k: int = k) -> Any:
            return endpoints[name].values[k]

        rows.append([
            str(arm), v("arm_dose"), int(v("n_spheroids")), int(v("n_relapsed")),
            int(v("n_controlled")), int(v("n_unknown")), v("median_relapse_free_h") / 24.0,
            v("median_time_to_factor_h") / 24.0, v("growth_delay_h") / 24.0,
        ])  # fmt: skip
    return rows


def _scalar(endpoints: xr.Dataset, name: str) -> float:
    return float(endpoints[name].values)


def _scd50_text(endpoints: xr.Dataset, *, unit: str, no_time: str | None) -> str:
    """SCD50 and its interval, or why there is none."""
    scd50 = _scalar(endpoints, "scd50")
    if not math.isfinite(scd50):
        levels = int((endpoints["scp_n"].values > 0).sum())
        why = no_time or (
            f"needs spheroids of known fate at two or more doses ({levels} here)"
            if levels < 2
            else "the logistic fit did not converge"
        )
        return f"not estimated: {why}"
    lo, hi = _scalar(endpoints, "scd50_lower"), _scalar(endpoints, "scd50_upper")
    ci = f" ({_fmt(lo)} to {_fmt(hi)})" if math.isfinite(lo) and math.isfinite(hi) else ""
    text = f"{_fmt(scd50)} {unit}".rstrip() + ci
    if _scalar(endpoints, "scd_slope") <= 0:
        text += "; SCP does not rise with dose: fit not meaningful"
    return text


def _doubling_text(endpoints: xr.Dataset, *, no_time: str | None) -> str:
    days = _scalar(endpoints, "untreated_doubling_time_h")
    if math.isfinite(days):
        return f"{_fmt(days)} h"
    return f"not estimated: {no_time or 'no untreated arm (dose 0) with growing spheroids'}"


@dataclass(frozen=True)
class RenderedReport:
    """The report's page and its figures, not yet written anywhere."""

    html: str
    #: PNG bytes by figure name (``growth_curves``, ``kaplan_meier``, ...)
    pngs: dict[str, bytes]


def write_report(
    results_path: Path | str,
    out_html: Path | str,
    *,
    params: EndpointParams | None = None,
    plate_path: Path | str | None = None,
    figures_dir: Path | str | None = None,
    max_montage: int = 24,
    curves: xr.Dataset | None = None,
    endpoints: xr.Dataset | None = None,
) -> Path:
    """Write the HTML report of a results store, and its figures as PNG files.

    Reads the results store (and the plate, for the montage), computes what the caller did
    not pass, and writes what :func:`render_report` renders.

    Parameters
    ----------
    results_path : Path or str
        Results store written by ``hts run``.
    out_html : Path or str
        The report; its folder is created.
    params : EndpointParams, optional
        Endpoint thresholds; default: those ``endpoints`` were computed with, else
        ``EndpointParams()``.
    plate_path : Path or str, optional
        The OME-Zarr plate, for the montage of flagged images; default: the plate path
        the results store records. Without a readable plate the montage is left out.
    figures_dir : Path or str, optional
        Where the PNG files go; default: ``<out_html stem>_figures`` beside the report.
    max_montage : int
        Most flagged images in the montage.
    curves, endpoints : xarray.Dataset, optional
        :func:`hts.analysis.growth_curves` and :func:`hts.analysis.compute_endpoints` of
        this store, where the caller has them already (with the same ``params``);
        computed here otherwise.

    Returns
    -------
    Path
        ``out_html``.
    """
    from hts.analysis.curves import growth_curves
    from hts.analysis.endpoints import endpoints_from_curves
    from hts.analysis.queries import flagged_images
    from hts.report.montage import flagged_montage
    from hts.results.key_figures import results_figures
    from hts.results.store import open_results

    params = _endpoint_params(params, endpoints)
    lazy = open_results(results_path)  # first: a wrong path must leave no folder behind
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = Path(figures_dir) if figures_dir else out_html.with_name(out_html.stem + "_figures")
    fig_dir.mkdir(parents=True, exist_ok=True)

    # contours are long text: read only those of the montage's images, lazily
    results = lazy.drop_vars([v for v in ("contour",) if v in lazy.data_vars]).load()
    if curves is None:
        curves = growth_curves(results, params=params)
    if endpoints is None:
        endpoints = endpoints_from_curves(curves, params=params)

    plate = Path(plate_path) if plate_path else Path(str(results.attrs.get("plate_path", "")))
    flagged = flagged_images(results)
    montage = None
    if len(flagged) == 0:
        montage_note = "No image is QC-flagged."
    elif plate_path is None and not results.attrs.get("plate_path"):
        montage_note = "The results store names no plate: pass plate_path for the montage."
    elif not (plate / "zarr.json").exists():
        montage_note = f"Plate store {plate} not found: montage left out."
    else:
        montage = flagged_montage(lazy, plate, max_images=max_montage)
        montage_note = (
            f"{len(montage.labels)} of {montage.n_flagged} flagged images, spheroid contour in red."
        )

    report = render_report(
        results, curves, endpoints, results_figures(results),
        params=params, flagged=flagged, montage=montage, montage_note=montage_note,
        results_name=str(Path(results_path).resolve()),
        title=f"hts report: {results.attrs.get('plate', Path(results_path).name)}",
    )  # fmt: skip
    for name, png in report.pngs.items():
        (fig_dir / f"{name}.png").write_bytes(png)
    out_html.write_text(report.html, encoding="utf-8")
    log.info("wrote report %s and %d figures in %s", out_html, len(report.pngs), fig_dir)
    return out_html


def _endpoint_params(params: EndpointParams | None, endpoints: xr.Dataset | None) -> EndpointParams:
    """The report's parameters: as given, else those the endpoints were computed with."""
    recorded = None if endpoints is None else endpoints.attrs.get("endpoint_params")
    if params is None:
        return EndpointParams() if recorded is None else EndpointParams.from_json(recorded)
    if recorded is not None and recorded != params.to_json():
        raise ValueError("the endpoints passed were computed with other parameters than params")
    return params


def render_report(
    results: xr.Dataset,
    curves: xr.Dataset,
    endpoints: xr.Dataset,
    figures: ResultsFigures,
    *,
    params: EndpointParams,
    flagged: pd.DataFrame,
    montage: Montage | None,
    montage_note: str,
    results_name: str,
    title: str,
) -> RenderedReport:
    """The report's page and figures from what was computed before (no file is read or
    written).

    Parameters
    ----------
    results : xarray.Dataset
        The results store, loaded (its attributes and time points are shown).
    curves : xarray.Dataset
        :func:`hts.analysis.growth_curves` of it.
    endpoints : xarray.Dataset
        :func:`hts.analysis.compute_endpoints` of it.
    figures : ResultsFigures
        :func:`hts.results.results_figures` of it (the QC table and chart).
    params : EndpointParams
        The parameters the endpoints were computed with (listed in the page).
    flagged : pandas.DataFrame
        :func:`hts.analysis.flagged_images` of it (the table of flagged images).
    montage : Montage or None
        The montage of flagged images (:func:`hts.report.montage.flagged_montage`), if any;
        ``montage_note`` says what it shows or why there is none.
    montage_note : str
    results_name : str
        How the page names the results store.
    title : str

    Returns
    -------
    RenderedReport
    """
    from hts.report import figures as fg

    qc = qc_counts(figures)
    no_time = time_problem(results)
    has_km = bool(np.isfinite(endpoints["relapse_free"].values).any())
    has_scp = bool((endpoints["scp_n"].values > 0).any())
    # a panel without data says why in the page instead of showing empty axes
    empty = {
        "growth_curves": no_time,
        "kaplan_meier": no_time or (None if has_km else "no spheroid has a known fate"),
        "scp_dose_response": no_time
        or (None if has_scp else "no dose level has spheroids of known fate"),
    }
    pngs = {"qc_flags": fg.figure_png(fg.qc_figure(qc))}
    if empty["growth_curves"] is None:
        pngs["growth_curves"] = fg.figure_png(
            fg.growth_curves_figure(curves, endpoints, relapse_factor=params.relapse_factor)
        )
    if empty["kaplan_meier"] is None:
        pngs["kaplan_meier"] = fg.figure_png(fg.kaplan_meier_figure(endpoints))
    if empty["scp_dose_response"] is None:
        pngs["scp_dose_response"] = fg.figure_png(fg.scp_figure(endpoints))
    if montage is not None:
        pngs["flagged_montage"] = montage.png()

    level = f"{params.confidence:.0%}"
    unit = str(endpoints["dose_level"].attrs.get("units", ""))
    dose = f"dose ({unit})" if unit else "dose"
    summary = [
        ("results", results_name),
        ("plate", str(results.attrs.get("plate", ""))),
        ("spheroids x time points", f"{figures.n_positions} x {figures.n_timepoints}"),
        (f"SCD50 ({level} CI)", _scd50_text(endpoints, unit=unit, no_time=no_time)),
        ("untreated doubling time", _doubling_text(endpoints, no_time=no_time)),
        ("generated", f"{datetime.now(UTC).isoformat(timespec='seconds')} by hts {__version__}"),
    ]
    arm_rows = _arm_rows(endpoints)
    if no_time is not None:  # counts only: every endpoint would be unknown, or wrong
        arm_table = _table(["arm", dose, "n"], [row[:3] for row in arm_rows]) + _note(
            f"No endpoints: {no_time}."
        )
    else:
        arm_table = _table(
            ["arm", dose, "n", "relapsed", "controlled", "unknown", "median relapse-free (d)",
             f"median time to {params.growth_delay_factor:g} x V0 (d)", "growth delay (d)"],
            arm_rows,
        )  # fmt: skip
        if any(float(row[-1]) < 0 for row in arm_rows):
            arm_table += _note(
                f"A negative growth delay: the arm reached {params.growth_delay_factor:g} x V0 "
                "sooner than the untreated arm (a treatment that does not slow growth, or the "
                "spread between spheroids)."
            )
    scp_rows = [
        [d, int(n), int(c), s, lo, hi]
        for d, n, c, s, lo, hi in zip(
            endpoints["dose_level"].values, endpoints["scp_n"].values,
            endpoints["scp_n_controlled"].values, endpoints["scp"].values,
            endpoints["scp_lower"].values, endpoints["scp_upper"].values, strict=True,
        )
    ]  # fmt: skip
    flags = list(next(iter(qc.values()), {}).keys())
    qc_table = _table(["plate", *flags], [[p, *c.values()] for p, c in qc.items()])
    listed = flagged.head(200)
    flagged_table = _table(
        ["well", "day", "flags", "volume (um3)"],
        [
            [r.well, _day(r.day), r.flags.replace("+", ", "), r.volume_um3]
            for r in listed.itertuples()
        ],
    )
    params_rows = [[k, json.dumps(v)] for k, v in json.loads(params.to_json()).items()]

    def panel(name: str, alt: str, note: str) -> str:
        why = empty[name]
        if why is not None:
            return _note(f"No {alt}: {why}.")
        return _img(pngs[name], alt) + note

    sections = [
        (
            "Growth curves",
            panel("growth_curves", "growth curves",
                  '<p class="note">Grey: each spheroid (usable points); coloured: median per arm; '
                  "red crosses: QC-flagged points, shown but not fitted; orange dots: relapse.</p>"),
        ),
        ("Endpoints per arm", arm_table),
        (
            "Relapse-free fraction (Kaplan-Meier)",
            panel("kaplan_meier", "relapse-free curves", f'<p class="note">{level} pointwise '
                  "confidence bands. For the untreated arm the event is growth past the relapse "
                  "threshold.</p>"),
        ),
        (
            "Spheroid control probability",
            panel("scp_dose_response", "dose-response",
                  _table([dose, "n", "controlled", "SCP", f"{level} CI low", f"{level} CI high"], scp_rows)
                  + '<p class="note">Clopper-Pearson intervals; SCD50 from a maximum-likelihood '
                  "logistic fit, profile-likelihood interval; Wald SE "
                  f"{html.escape((_fmt(_scalar(endpoints, 'scd50_se')) + ' ' + unit).strip())}.</p>"),
        ),
        ("Quality control", _img(pngs["qc_flags"], "QC flags per plate") + qc_table),
        (
            "Flagged images",
            (_img(pngs["flagged_montage"], "montage of flagged images") if "flagged_montage" in pngs else "")
            + f'<p class="note">{html.escape(montage_note)}</p>'
            + (flagged_table if len(listed) else "")
            + (
                f'<p class="note">First {len(listed)} of {len(flagged)} listed.</p>'
                if len(flagged) > len(listed)
                else ""
            ),
        ),
        ("Parameters", _table(["parameter", "value"], params_rows)),
    ]  # fmt: skip
    return RenderedReport(render_html(title=title, summary=summary, sections=sections), pngs)
