"""Ingest into real OME-Zarr plates on disk, through a real Dask cluster."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from hts.distributed.cluster import ClusterSpec
from hts.io import IngestOptions, PlateStore, ProblemKind, ingest, read_image
from hts.io.lock import StoreLocked, lock_path
from hts.testing import write_disk_plate
from hts.wells import WellId


def _kinds(report: object) -> dict[str, str]:
    return {p.path: p.kind for p in report.problems}  # type: ignore[attr-defined]


def test_ingest_writes_a_plate_with_pixels_metadata_and_provenance(
    disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    out = tmp_path / "plate.zarr"
    report = ingest(disk_folder, out, options=IngestOptions(plate_map=plate_map), cluster=threads)
    assert report.complete and report.n_new == 9 and report.problems == ()
    plate = PlateStore(out)
    assert plate.name == "TEST01"
    assert plate.image_shape == (96, 128)
    assert plate.dtype == np.uint16
    assert plate.pixel_size_um == pytest.approx(2.0)
    assert [tp.time_h for tp in plate.timepoints] == [0.0, 24.0, 48.0]
    assert plate.well_info[WellId.parse("B3")]["arm"] == "RT 5 Gy"
    source = disk_folder / "TEST01_B3_1_2026y03m03d_09h30m.tif"
    np.testing.assert_array_equal(
        plate.read_image(WellId.parse("B3"), 1, 1), read_image(source).pixels
    )
    record = plate.image_records(WellId.parse("B3"), 1)[1]
    assert record["source"] == source.name and len(record["sha256"]) == 64
    assert record["time_h"] == pytest.approx(24.0)
    array = plate.image_array(WellId.parse("B3"), 1)
    assert array.chunks == (1, 96, 128)
    assert plate.ingest_runs[-1]["n_new"] == 9


def test_one_ingest_at_a_time_per_plate(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    import socket
    import subprocess
    import sys

    out = tmp_path / "plate.zarr"
    lock = lock_path(out)
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))  # alive
    with pytest.raises(StoreLocked, match=r"plate\.zarr is being written by another run"):
        ingest(disk_folder, out, cluster=threads)
    assert not out.exists()
    # a lock left by a process that is gone (a killed ingest) is taken over
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(gone.stdout)}))
    assert ingest(disk_folder, out, cluster=threads).n_new == 9
    assert not lock.exists()  # released


def test_ingest_is_idempotent_and_incremental(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, cluster=threads)
    before = {
        p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "zarr.json"
    }
    again = ingest(disk_folder, out, cluster=threads)
    assert again.n_new == 0 and again.n_unchanged == 9 and again.complete
    after = {
        p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "zarr.json"
    }
    assert before == after  # no chunk rewritten

    write_disk_plate(disk_folder, days=(3, 4), plate_map=False)  # two new days, all wells
    write_disk_plate(disk_folder, wells=("D5",), days=(0,), plate_map=False)  # a new well
    more = ingest(disk_folder, out, cluster=threads)
    assert more.n_new == 7 and more.n_unchanged == 9
    plate = PlateStore(out)
    assert [tp.label for tp in plate.timepoints][-2:] == ["2026-03-05T09:30", "2026-03-06T09:30"]
    assert sorted(plate.image_records(WellId.parse("B2"), 1)) == [0, 1, 2, 3, 4]
    assert sorted(plate.image_records(WellId.parse("D5"), 1)) == [0]
    assert plate.image_array(WellId.parse("D5"), 1).shape == (5, 96, 128)


def test_changed_file_is_detected_and_the_ingested_version_kept(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, cluster=threads)
    path = disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif"
    original = read_image(path).pixels
    tifffile.imwrite(
        path, np.zeros((96, 128), np.uint16), resolution=(5000, 5000), resolutionunit="CENTIMETER"
    )
    report = ingest(disk_folder, out, cluster=threads)
    assert _kinds(report) == {path.name: ProblemKind.CHANGED}
    assert not report.complete
    np.testing.assert_array_equal(PlateStore(out).read_image(WellId.parse("B2"), 1, 0), original)


def test_touched_but_identical_file_is_unchanged(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, cluster=threads)
    path = disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif"
    os.utime(path, ns=(1, 1))  # new mtime, same bytes: hashed, found identical
    report = ingest(disk_folder, out, cluster=threads)
    assert report.complete and report.n_unchanged == 9


def test_bad_files_are_reported_and_good_ones_kept(
    disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    good = disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif"
    data = good.read_bytes()
    (disk_folder / "TEST01_C3_1_2026y03m02d_09h30m.tif").write_bytes(
        data[: len(data) // 3]
    )  # truncated
    (disk_folder / "TEST01_C4_1_2026y03m02d_09h30m.tif").write_bytes(
        b"\x00garbage" * 100
    )  # corrupt
    shutil.copy(good, disk_folder / "holiday.tif")  # unexpected name
    tifffile.imwrite(
        disk_folder / "TEST01_C5_1_2026y03m02d_09h30m.tif", np.zeros((96, 128), np.float32)
    )
    tifffile.imwrite(
        disk_folder / "TEST01_C6_1_2026y03m02d_09h30m.tif",
        np.zeros((50, 50), np.uint16),
        resolution=(5000, 5000),
        resolutionunit="CENTIMETER",
    )
    sub = disk_folder / "copy"
    sub.mkdir()
    shutil.copy(good, sub / good.name)  # a second file for B2 day 0
    write_disk_plate(
        disk_folder, wells=("H12",), days=(0,), plate_map=False
    )  # not in the plate map
    (disk_folder / "notes.txt").write_text("microscope log")

    out = tmp_path / "plate.zarr"
    report = ingest(disk_folder, out, options=IngestOptions(plate_map=plate_map), cluster=threads)
    kinds = _kinds(report)
    reasons = {p.path: p.reason for p in report.problems}
    assert kinds["TEST01_C3_1_2026y03m02d_09h30m.tif"] == ProblemKind.SKIPPED
    assert "truncated" in reasons["TEST01_C3_1_2026y03m02d_09h30m.tif"]
    assert kinds["TEST01_C4_1_2026y03m02d_09h30m.tif"] == ProblemKind.SKIPPED
    assert "does not match" in reasons["holiday.tif"]
    assert "float32" in reasons["TEST01_C5_1_2026y03m02d_09h30m.tif"]
    assert "50x50" in reasons["TEST01_C6_1_2026y03m02d_09h30m.tif"]
    assert (
        "several files" in reasons[good.name] and kinds[f"copy/{good.name}"] == ProblemKind.SKIPPED
    )
    assert kinds["TEST01_H12_1_2026y03m02d_09h30m.tif"] == ProblemKind.WARNING
    assert kinds["notes.txt"] == ProblemKind.IGNORED
    assert not report.complete
    assert report.n_new == 8 + 1  # 9 good minus the duplicated B2 day 0, plus H12
    stored = PlateStore(out).ingest_runs[-1]
    assert {p["path"] for p in stored["problems"]} == set(kinds)
    json.dumps(stored)  # the stored report is plain JSON


def test_pixel_size_is_required(tmp_path: Path, threads: ClusterSpec) -> None:
    folder = tmp_path / "img"
    folder.mkdir()
    tifffile.imwrite(folder / "P_B2_day0.tif", np.ones((16, 16), np.uint16))
    report = ingest(folder, tmp_path / "a.zarr", cluster=threads)
    assert "pixel size" in report.problems[0].reason and report.n_new == 0
    report = ingest(
        folder, tmp_path / "a.zarr", options=IngestOptions(pixel_size_um=1.5), cluster=threads
    )
    assert report.complete and PlateStore(tmp_path / "a.zarr").pixel_size_um == 1.5


def test_manifest_assigns_files(tmp_path: Path, threads: ClusterSpec) -> None:
    folder = tmp_path / "img"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"scan{i}.tif", np.full((16, 16), i + 1, np.uint16))
    (tmp_path / "manifest.csv").write_text(
        "path,well,days\nscan0.tif,B2,0\nscan1.tif,B2,1\nscan2.tif,C7,0\nmissing.tif,C8,0\n"
    )
    options = IngestOptions(manifest=tmp_path / "manifest.csv", pixel_size_um=1.0, plate_name="M1")
    report = ingest(folder, tmp_path / "m.zarr", options=options, cluster=threads)
    assert report.n_new == 3
    assert [p.reason for p in report.problems] == ["listed in the manifest but not found"]
    plate = PlateStore(tmp_path / "m.zarr")
    assert int(plate.read_image(WellId.parse("B2"), 1, 1)[0, 0]) == 2


def test_plate_opens_with_ome_zarr_reader(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Plate, Reader

    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, cluster=threads)
    nodes = list(Reader(parse_url(str(out)))())
    plate_node = nodes[0]
    assert plate_node.specs and isinstance(plate_node.specs[0], Plate)
    data = plate_node.data[0]  # the whole plate stitched as one (t, y, x) array
    assert data.shape[0] == 3
    assert float(data[1].max().compute()) > 0


def test_metadata_validates_against_ngff_models(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    from ome_zarr_models.v05.hcs import HCS
    from ome_zarr_models.v05.image import Image

    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, cluster=threads)
    import zarr

    HCS.from_zarr(zarr.open_group(out, mode="r"))
    Image.from_zarr(zarr.open_group(out / "B" / "2" / "1", mode="r"))
