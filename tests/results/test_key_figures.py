"""Key figures of a results store, from small hand-made datasets with known answers."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from hts.cli.summary import format_summary
from hts.measure import QC_BITS
from hts.report.html import qc_counts
from hts.results import Status, results_figures
from hts.testing import tiny_results

OK, FAILED, PENDING, NO_IMAGE = Status.OK, Status.FAILED, Status.PENDING, Status.NO_IMAGE


def _results() -> xr.Dataset:
    return tiny_results()


def test_status_and_qc_counts_only_count_measured_images() -> None:
    fig = results_figures(_results())
    assert fig.plate == "P1" and (fig.n_positions, fig.n_timepoints) == (3, 2)
    assert fig.last_day == 1.0
    assert fig.status == {"pending": 1, "ok": 3, "failed": 1, "no_image": 1}
    # the flags of the failed and the pending slot do not count
    assert fig.qc_flags["touches_border"] == 2 and fig.qc_flags["multiple_objects"] == 1
    assert fig.qc_flags_last == {
        **dict.fromkeys(QC_BITS, 0),
        "touches_border": 1,
        "multiple_objects": 1,
    }
    assert fig.n_flagged == 2 and fig.n_ok == 3


def test_arms_give_median_diameters_at_first_and_latest_time_point() -> None:
    arms = {a.arm: a for a in results_figures(_results()).arms}
    assert arms["untreated"].n_spheroids == 1
    assert (
        arms["untreated"].median_diameter_first_um,
        arms["untreated"].median_diameter_last_um,
    ) == (
        100.0,
        120.0,
    )
    assert arms["RT 5 Gy"].n_spheroids == 2
    assert arms["RT 5 Gy"].median_diameter_first_um == 200.0
    assert math.isnan(arms["RT 5 Gy"].median_diameter_last_um)  # nothing measured: n/a


def test_days_of_first_and_latest_time_point_none_where_unknown() -> None:
    fig = results_figures(_results())
    assert (fig.first_day, fig.last_day) == (0.0, 1.0)
    fig = results_figures(_results().assign_coords(day=("timepoint", [np.nan, 2.0])))
    assert (fig.first_day, fig.last_day) == (None, 2.0)
    fig = results_figures(_results().drop_vars("day"))
    assert (fig.first_day, fig.last_day) == (None, None)


def test_counts_per_plate_add_up_to_the_store() -> None:
    ds = _results().assign_coords(plate=("well", np.array(["P2", "P1", "P2"], dtype=object)))
    fig = results_figures(ds)
    assert [p.plate for p in fig.plates] == ["P1", "P2"]
    p1, p2 = fig.plates
    assert p1.status == {"pending": 0, "ok": 1, "failed": 1, "no_image": 0}
    assert p2.status == {"pending": 1, "ok": 2, "failed": 0, "no_image": 1}
    assert p1.qc_flags["multiple_objects"] == 0  # its flagged slot failed: not counted
    assert (p1.n_flagged, p2.n_flagged, p2.n_ok) == (0, 2, 2)
    assert p2.qc_flags["touches_border"] == 2 and p2.qc_flags["multiple_objects"] == 1
    for name in QC_BITS:
        assert p1.qc_flags[name] + p2.qc_flags[name] == fig.qc_flags[name]
    assert {k: p1.status[k] + p2.status[k] for k in fig.status} == fig.status


def test_without_a_plate_coordinate_the_store_is_one_plate() -> None:
    fig = results_figures(_results())
    assert len(fig.plates) == 1 and fig.plates[0].plate == "P1"
    assert fig.plates[0].status == fig.status and fig.plates[0].qc_flags == fig.qc_flags


def test_report_qc_table_columns_come_from_the_plate_figures() -> None:
    ds = _results().assign_coords(plate=("well", np.array(["P1", "P1", "P1"], dtype=object)))
    counts = qc_counts(results_figures(ds))
    assert list(counts) == ["P1"]
    assert list(counts["P1"]) == ["measured", "flagged", *QC_BITS, "failed", "no_image"]
    assert (counts["P1"]["measured"], counts["P1"]["flagged"]) == (3, 2)
    assert (counts["P1"]["failed"], counts["P1"]["no_image"]) == (1, 1)
    assert counts["P1"]["touches_border"] == 2


def test_terminal_summary_shows_the_key_figures() -> None:
    text = format_summary(results_figures(_results()), path="R.zarr")
    assert text.splitlines() == [
        "results R.zarr: 3 spheroids x 2 time points",
        "status: 1 pending, 3 ok, 1 failed, 1 no_image",
        "arm                        n  d(day 0.0) um  d(day 1.0) um",
        "RT 5 Gy                    2            200            nan",
        "untreated                  1            100            120",
        "images with QC flags: 2 of 3 (touches_border 2, multiple_objects 1)",
        "WARNING: most images were flagged by QC as doubtful (2 of 3): this model may not "
        "suit these images; check a few with `hts evaluate` or the report's montage (small "
        "spheroids or whole-well views: try --model unet+zoom)",
    ]


def test_terminal_summary_names_time_points_of_unknown_day_by_index() -> None:
    ds = _results().assign_coords(day=("timepoint", [np.nan, np.nan]))
    header = format_summary(results_figures(ds), path="R.zarr").splitlines()[2]
    assert header.split() == ["arm", "n", "d(t0)", "um", "d(t1)", "um"]
