"""Key figures from small hand-made datasets with known answers."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import xarray as xr

from flows.figures import endpoint_tables, markdown_table
from hts.distributed.run import RunSummary
from hts.measure import QC_BITS
from hts.results import Status, results_figures
from hts.testing import tiny_results

OK, FAILED, PENDING, NO_IMAGE = Status.OK, Status.FAILED, Status.PENDING, Status.NO_IMAGE


def _results() -> xr.Dataset:
    return tiny_results()


def test_endpoint_tables_group_by_dimension_and_leave_curves_out() -> None:
    endpoints = xr.Dataset(
        {
            "fate": ("well", np.array(["relapse", "control", "relapse"], dtype=object)),
            "relapse_time_h": ("well", [48.0, np.nan, 96.0], {"units": "h"}),
            "n_relapsed": ("arm_name", [0, 2]),
            "median_relapse_free_h": ("arm_name", [np.inf, 72.0], {"units": "h"}),
            "scp": ("dose_level", [0.0]),
            "relapse_free": (("arm_name", "timepoint"), np.ones((2, 2))),
            "scd50": ((), np.nan, {"units": "Gy"}),
        },
        coords={"arm_name": ["untreated", "RT 5 Gy"], "dose_level": [5.0]},
    )
    tables = {t.title: t for t in endpoint_tables(endpoints)}
    assert set(tables) == {"per arm_name", "per dose_level", "plate", "per spheroid"}
    arm = tables["per arm_name"]
    assert arm.header == ("arm_name", "n_relapsed", "median_relapse_free_h (h)")
    assert arm.rows == (("untreated", "0", "inf"), ("RT 5 Gy", "2", "72"))
    assert tables["per dose_level"].rows == (("5.0", "0"),)
    assert tables["plate"].rows == (("scd50 (Gy)", "n/a"),)
    spheroid = {row[0]: row for row in tables["per spheroid"].rows}
    assert spheroid["fate"][1] == "control 1, relapse 2"
    assert spheroid["relapse_time_h (h)"][1:] == ("2 of 3", "72", "48 - 96")
    assert all("relapse_free" not in t.header for t in tables.values())


def test_markdown_table() -> None:
    text = markdown_table(["a", "b"], [("x|y", 1.23456), ("z", float("nan"))])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x/y | 1.235 |", "| z | n/a |"]


HOSTILE = "[click](http://evil.example) <img src=x onerror=alert(1)> *bold* _it_\n# heading"


def test_markdown_artifacts_show_plate_arm_and_model_names_as_typed() -> None:
    """Names from plate maps, file names and weight files never become links, images, HTML
    or markup in the flows' Markdown (as in the HTML report)."""
    markdown_it = pytest.importorskip("markdown_it")
    from flows.nightly import NightlySummary, nightly_markdown
    from flows.reprocess import PlateFailure, ReprocessSummary, reprocess_markdown

    ds = _results().assign_coords(arm=("well", np.array([HOSTILE, "RT", "RT"], dtype=object)))
    ds.attrs["plate"] = HOSTILE
    run = RunSummary(
        HOSTILE, HOSTILE, 1, Counter(ok=1), [HOSTILE], plate_path="p.zarr", results_path="r.zarr"
    )
    summary = NightlySummary(
        n_files_seen=1, n_new_images=1, n_skipped_files=0, run=run, figures=results_figures(ds),
        endpoints=None, report_html=HOSTILE,
    )  # fmt: skip
    outcome = RunSummary(
        HOSTILE, HOSTILE, 1, Counter(ok=1), plate_path=f"{HOSTILE}.zarr", results_path="r",
        seconds=0.1,
    )  # fmt: skip
    again = ReprocessSummary(HOSTILE, (outcome,), (PlateFailure("x.zarr", HOSTILE),))
    render = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render
    for text in (nightly_markdown(summary), reprocess_markdown(again)):
        html = render(text)
        for tag in ("<a ", "<img", "<em>", "<h1>heading"):
            assert tag not in html, (tag, text)
        assert "[click](http://evil.example) &lt;img src=x onerror=alert(1)&gt; *bold*" in html
        assert text.count("\n# ") == 0 and text.startswith("# ")  # one heading, ours


def test_artifacts_count_qc_flags_and_warn_when_most_images_are_flagged() -> None:
    from flows.nightly import NightlySummary, nightly_markdown
    from flows.reprocess import ReprocessSummary, reprocess_markdown

    figures = results_figures(_results())  # 2 of the 3 measured images carry a flag
    run = RunSummary(
        "P1", "m", 1, Counter(ok=3), qc_flags=Counter(touches_border=2, no_object=0),
        n_flagged=2, n_doubtful=2, plate_path="p.zarr", results_path="r.zarr",
    )  # fmt: skip
    summary = NightlySummary(
        n_files_seen=3, n_new_images=3, n_skipped_files=0, run=run, figures=figures,
        endpoints=None, report_html=None,
    )  # fmt: skip
    text = nightly_markdown(summary)
    assert "> **Warning:** most images were flagged by QC as doubtful (2 of 3): this model" in text
    assert text.count("**Warning:**") == 1  # this run's and the plate's: the same words once
    this_run = text.split("## Whole plate")[0]
    assert "| measured images flagged by QC | 2 |\n| touches_border | 2 |" in this_run
    assert "no_object" not in this_run  # the flags that occur

    outcome = RunSummary(
        "P1", "m", 1, Counter(ok=3), qc_flags=Counter(touches_border=2), n_flagged=2,
        n_doubtful=2, plate_path="P1.zarr", results_path="r", seconds=0.1,
    )  # fmt: skip
    text = reprocess_markdown(ReprocessSummary("m", (outcome,), ()))
    assert (
        "> **Warning:** plate P1.zarr: most images were flagged by QC as doubtful (2 of 3)" in text
    )
    assert "| P1.zarr | m | 3 | 2 | touches\\_border 2 |" not in text  # intraword _ is kept
    assert "| P1.zarr | m | 3 | 2 | touches_border 2 | 0 |" in text
    # a satellite beside the spheroid (multiple_objects) leaves its measurement standing
    multiple = 1 << QC_BITS["multiple_objects"]
    quiet = nightly_markdown(
        replace(summary, run=replace(run, n_doubtful=0), figures=results_figures(
            _results().assign(qc_flags=lambda d: d.qc_flags * 0 + multiple)))
    )  # fmt: skip
    assert "Warning" not in quiet and "| measured images flagged by QC | 2 |" in quiet
