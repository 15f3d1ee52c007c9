"""The flows' plain steps: finding plates in an archive, default paths, optional reports."""

from __future__ import annotations

from pathlib import Path

import zarr

from flows.steps import default_report_path, default_results_path, find_plates
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
