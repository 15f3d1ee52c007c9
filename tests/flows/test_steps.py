"""The flows' plain steps: finding plates in an archive, default paths, optional reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr
import zarr

from flows.figures import endpoint_tables
from flows.steps import (
    compute_endpoints,
    default_report_path,
    default_results_path,
    find_plates,
    write_html_report,
)
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.testing import write_disk_plate


def test_find_plates_skips_results_stores_and_other_zarr(
    tmp_path: Path, threads: ClusterSpec
) -> None:
    write_disk_plate(tmp_path / "images")
    archive = tmp_path / "archive"
    for plate in (archive / "A.zarr", archive / "2026" / "B.zarr"):
        ingest(tmp_path / "images", plate, cluster=threads)
    zarr.open_group(str(archive / "A.results.zarr"), mode="w")  # a results store
    zarr.open_group(str(archive / "other.zarr"), mode="w")  # Zarr, but no plate
    (archive / "notes.zarr").mkdir()  # not even Zarr
    assert find_plates(archive) == [archive / "2026" / "B.zarr", archive / "A.zarr"]


def test_default_paths_are_those_of_hts_run() -> None:
    assert default_results_path("/d/EXP42.zarr") == Path("/d/EXP42.results.zarr")
    assert default_report_path("/d/EXP42.results.zarr") == Path("/d/EXP42.report.html")


def test_endpoints_computed_once_feed_the_tables_and_the_report(
    segmented_plate, tmp_path: Path
) -> None:
    pytest.importorskip("scipy")
    import hts.analysis
    from hts.results import open_results

    _, plate, results = segmented_plate
    growth = compute_endpoints(results, params={"relapse_factor": 2.5})
    assert growth is not None
    params = hts.analysis.EndpointParams(relapse_factor=2.5)
    expected = hts.analysis.compute_endpoints(open_results(results), params=params)
    xr.testing.assert_identical(growth.endpoints, expected)
    xr.testing.assert_identical(
        growth.curves, hts.analysis.growth_curves(open_results(results), params=params)
    )
    assert growth.tables() == endpoint_tables(expected)
    html = write_html_report(results, tmp_path / "r.html", endpoints=growth, plate=plate)
    assert html is not None
    assert '<td class="text">relapse_factor</td><td>2.5</td>' in html.read_text(encoding="utf-8")
    # without hts[report] there are no endpoints, and so no report
    assert write_html_report(results, tmp_path / "none.html", endpoints=None) is None
    assert not (tmp_path / "none.html").exists()
