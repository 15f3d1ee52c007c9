"""Endpoints of a plate that went through ingest and segmentation, against its truth files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hts.analysis import FATES, compute_endpoints, growth_curves
from hts.results import Status, open_results


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _key(well_name: str) -> str:
    """'B03' -> 'B3', as the synthetic truth files name wells."""
    return f"{well_name[0]}{int(well_name[1:])}"


def test_segmented_plate_end_to_end(segmented_plate) -> None:
    synthetic, _, results_path = segmented_plate
    results = open_results(results_path)
    endpoints = compute_endpoints(results)
    assert endpoints.sizes["well"] == 20 and endpoints.sizes["arm_name"] == 5
    np.testing.assert_array_equal(endpoints.well.values, results.well.values)
    assert set(endpoints.fate.values) <= set(FATES)
    assert (endpoints.fate.values[results.dose.values == 0] == "untreated").all()
    # QC-flagged images of the real run are marked in the curves, not dropped
    curves = growth_curves(results)
    flagged = (results.qc_flags.values != 0) & (results.status.values == Status.OK)
    np.testing.assert_array_equal(curves.excluded.values, flagged)

    # the classical segmenter measures clean untreated spheroids well: their growth rate
    # matches the one fitted to the true volumes of truth.csv
    truth = _rows(synthetic.truth_csv)
    true_volume = np.full(results.volume_um3.shape, np.nan)
    wells = {_key(str(w)): i for i, w in enumerate(results.well_name.values)}
    times = list(results.time_h.values)
    for row in truth:
        true_volume[wells[row["well"]], times.index(float(row["time_h"]))] = float(
            row["volume_um3"]
        )
    from_truth = results.load().copy()
    from_truth["volume_um3"] = (("well", "timepoint"), true_volume)
    from_truth["qc_flags"] = xr.zeros_like(from_truth["qc_flags"])
    truth_ends = compute_endpoints(from_truth)
    assert float(endpoints.untreated_growth_rate_per_h) == pytest.approx(
        float(truth_ends.untreated_growth_rate_per_h), rel=0.15
    )

    # endpoints from the true volumes, through the real store's coordinates and times,
    # recover spheroids.csv
    fates = {r["well"]: r for r in _rows(synthetic.spheroids_csv)}
    for i, well_name in enumerate(results.well_name.values):
        expected = fates[_key(str(well_name))]
        assert truth_ends.fate.values[i] == expected["fate"], well_name
        if expected["fate"] == "relapse":
            got = float(truth_ends.relapse_time_h.values[i])
            assert abs(got - float(expected["relapse_time_h"])) <= 24.0, well_name
