"""Ingest into real OME-Zarr plates on disk, through a real Dask cluster."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.io import IngestOptions, PlateStore, ProblemKind, read_image
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


def _lying_tiff(path: Path, height: int, width: int) -> None:
    """A small 16-bit TIFF (2 um pixels) whose header claims ``height`` x ``width`` pixels."""
    tifffile.imwrite(
        path,
        np.full((96, 128), 3000, np.uint16),
        metadata=None,
        resolution=(5000, 5000),
        resolutionunit="CENTIMETER",
    )
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        offsets = {code: tags[code].valueoffset for code in (256, 257, 278)}
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, offsets[256], width)  # ImageWidth
    struct.pack_into("<I", data, offsets[257], height)  # ImageLength
    struct.pack_into("<I", data, offsets[278], height)  # RowsPerStrip: one strip
    path.write_bytes(data)


def test_an_absurd_header_is_refused_before_anything_is_decoded(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    """Issue 13, case 4: a first file claiming 100000 x 100000 px fixed the plate's size
    before any pixel was decoded, and every later good image was refused."""
    first = tmp_path / "first_night"
    first.mkdir()
    _lying_tiff(first / "TEST01_A1_1_2026y03m02d_09h30m.tif", 100_000, 100_000)
    out = tmp_path / "plate.zarr"
    report = ingest(first, out, cluster=threads)
    assert report.n_new == 0 and not report.complete
    (problem,) = report.problems
    assert problem.path == "TEST01_A1_1_2026y03m02d_09h30m.tif"
    assert "claims 100000x100000 px" in problem.reason and "--max-image-pixels" in problem.reason
    assert not out.exists()  # no plate recorded from it
    later = ingest(disk_folder, out, cluster=threads)
    assert later.complete and later.n_new == 9
    assert PlateStore(out).image_shape == (96, 128)
    # the limit is adjustable
    small = ingest(
        disk_folder, tmp_path / "small.zarr", options=IngestOptions(max_image_pixels=10_000),
        cluster=threads,
    )  # fmt: skip
    assert small.n_skipped == 9 and "limit of 0.01 megapixels" in small.problems[0].reason


def test_plate_geometry_comes_from_a_file_that_decodes(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    """Headers that lie (within the size limit) are outvoted only by a decoded image."""
    folder = tmp_path / "img"
    folder.mkdir()
    _lying_tiff(folder / "TEST01_A1_1_2026y03m02d_09h30m.tif", 3000, 3000)
    _lying_tiff(folder / "TEST01_A2_1_2026y03m02d_09h30m.tif", 3000, 3000)
    good = disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif"
    shutil.copy(good, folder / good.name)
    out = tmp_path / "plate.zarr"
    report = ingest(folder, out, cluster=threads)
    assert report.n_new == 1 and PlateStore(out).image_shape == (96, 128)
    reasons = {p.path: p.reason for p in report.problems}
    assert "cannot decode image" in reasons["TEST01_A1_1_2026y03m02d_09h30m.tif"]
    assert ingest(disk_folder, out, cluster=threads).n_new == 8


def test_a_well_outside_every_plate_format_is_skipped_and_named(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    """Issue 13, case 5: a ``_B99_`` file stopped the whole ingest with an empty plate."""
    good = disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif"
    shutil.copy(good, disk_folder / "TEST01_B99_1_2026y03m02d_09h30m.tif")
    out = tmp_path / "plate.zarr"
    report = ingest(disk_folder, out, cluster=threads)
    assert report.n_new == 9 and report.n_skipped == 1
    (problem,) = report.problems
    assert problem.path == "TEST01_B99_1_2026y03m02d_09h30m.tif"
    assert "'B99' is outside every plate format" in problem.reason
    assert len(PlateStore(out).fields) == 3


def test_incucyte_elapsed_time_names(tmp_path: Path, threads: ClusterSpec) -> None:
    """Issue 13, case 11: Incucyte's own elapsed-time names (``VID1335_A7_1_00d05h00m.jpg``)."""
    from PIL import Image

    from hts.testing import disk_image

    folder = tmp_path / "img"
    folder.mkdir()
    names = [
        "VID1335_A7_1_00d05h00m.jpg",
        "VID1335_A7_1_01d05h30m.jpg",
        "VID1335_B2_1_00d05h00m.jpg",
    ]
    for name in names:
        pixels, _ = disk_image((64, 80), 10.0, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name, dpi=(12700, 12700))  # 2 um pixels
    out = tmp_path / "plate.zarr"
    report = ingest(folder, out, cluster=threads)
    assert report.complete and report.n_new == 3 and report.pattern == "incucyte"
    plate = PlateStore(out)
    assert plate.name == "VID1335"
    assert [(tp.label, tp.time_h) for tp in plate.timepoints] == [("5h", 5.0), ("29.5h", 29.5)]


def test_no_image_files_is_an_error_and_leaves_no_plate(
    tmp_path: Path, threads: ClusterSpec
) -> None:
    """Issue 13, case 12: a folder without images said 'no naming preset matches any file';
    with --pattern the ingest exited 0 and left an empty plate."""
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "notes.txt").write_text("log")
    out = tmp_path / "plate.zarr"
    for pattern in ("auto", "incucyte"):
        with pytest.raises(ValueError, match=r"img: no image files found .*\.tif.*1 other files"):
            ingest(folder, out, options=IngestOptions(pattern=pattern), cluster=threads)
        assert not out.exists()


def test_an_ingest_of_only_bad_files_leaves_no_plate(tmp_path: Path, threads: ClusterSpec) -> None:
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "TEST01_B2_1_2026y03m02d_09h30m.tif").write_bytes(b"not a tiff")
    out = tmp_path / "plate.zarr"
    report = ingest(folder, out, cluster=threads)
    assert report.n_skipped == 1 and not report.complete
    assert not out.exists()


def test_a_name_the_preset_cannot_read_shows_what_it_expects(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    shutil.copy(disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif", disk_folder / "B2 day 3.tif")
    report = ingest(disk_folder, tmp_path / "plate.zarr", cluster=threads)
    (problem,) = report.problems
    assert problem.path == "B2 day 3.tif"
    assert "preset incucyte expects names like VID123_B3_1_2026y03m02d_09h30m.tif" in (
        problem.reason
    )


def test_plate_map_wells_without_images_are_reported(
    disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    """Issue 13, case 12: a plate-map well no image has (H12) was accepted silently."""
    plate_map.write_text(plate_map.read_text() + "TEST01,H12,FaDu,X-ray,10.0,Gy,RT 10 Gy,4,\n")
    report = ingest(
        disk_folder, tmp_path / "plate.zarr", options=IngestOptions(plate_map=plate_map),
        cluster=threads,
    )  # fmt: skip
    assert report.n_new == 9
    (problem,) = report.problems
    assert problem.kind == ProblemKind.WARNING and problem.path == str(plate_map)
    assert "lists well H12, but no image of it was found" in problem.reason


# --- provenance records are written in batches; a stopped ingest resumes -------------------
def _records(plate: Path) -> dict[tuple[str, int, int], dict[str, object]]:
    """Every stored record by (well, field, t), less the time of its ingest."""
    store = PlateStore(plate)
    return {
        (well.name, field_, t): {k: v for k, v in record.items() if k != "ingested_at"}
        for well, fields in store.fields.items()
        for field_ in fields
        for t, record in store.image_records(well, field_).items()
    }


def _n_records(plate: Path) -> int:
    return len(_records(plate))


def test_records_are_written_in_batches(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    out = tmp_path / "plate.zarr"
    stored: list[int] = []
    docs: list[tuple[bytes, ...]] = []  # each field group's metadata document, as on disk

    def progress(n: int) -> None:
        stored.append(_n_records(out))  # what a killed ingest would leave, read from disk
        docs.append(
            tuple((out / f / "zarr.json").read_bytes() for f in ("B/2/1", "B/3/1", "C/2/1"))
        )

    options = IngestOptions(files_per_task=1, records_every_tasks=3, records_every_s=1e9)
    report = ingest(disk_folder, out, options=options, cluster=threads, progress=progress)
    assert report.n_new == 9
    # one batch every 3 tasks, not one write per task
    assert stored == [0, 0, 3, 3, 3, 6, 6, 6, 9]
    changed = [k for k in range(1, 9) if docs[k] != docs[k - 1]]
    assert 2 in changed and set(changed) <= {2, 5, 8}  # no field's metadata written between batches
    clean = tmp_path / "clean.zarr"
    ingest(disk_folder, clean, cluster=threads)
    assert _records(out) == _records(clean)  # the same content as records written per task

    # a time window: with every task past it, each task's records are written at once
    out2 = tmp_path / "timed.zarr"
    stored.clear()
    timed = IngestOptions(files_per_task=1, records_every_tasks=10**6, records_every_s=0.0)
    ingest(disk_folder, out2, options=timed, cluster=threads, progress=lambda n: stored.append(
        _n_records(out2)))  # fmt: skip
    assert stored == list(range(1, 10))


class _Stop(Exception):
    pass


@pytest.mark.parametrize("stop", [_Stop, KeyboardInterrupt])
def test_a_stopped_ingest_keeps_what_finished_and_a_rerun_completes_it(
    stop: type[BaseException], disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    clean = tmp_path / "clean.zarr"
    ingest(disk_folder, clean, cluster=threads)
    out = tmp_path / "plate.zarr"
    calls: list[int] = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == 5:
            raise stop("stopped mid-run")

    # a window far longer than the run: only the stop writes the 5 finished tasks' records
    options = IngestOptions(files_per_task=1, records_every_tasks=1000, records_every_s=1e9)
    with pytest.raises(stop):
        ingest(disk_folder, out, options=options, cluster=threads, progress=progress)
    assert _n_records(out) == 5  # the plate is kept, with every finished image recorded
    assert not lock_path(out).exists()
    again = ingest(disk_folder, out, cluster=threads)
    assert again.n_new == 4 and again.n_unchanged == 5 and again.complete
    assert _records(out) == _records(clean)


def test_a_killed_ingest_redoes_at_most_its_window(
    disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    """Killed outright (no chance to write anything): the images written since the last
    batch have chunks but no records; a re-run writes them again, to the same plate."""
    import subprocess
    import sys

    clean = tmp_path / "clean.zarr"
    ingest(disk_folder, clean, cluster=threads)
    out = tmp_path / "plate.zarr"
    script = f"""
import os
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.io import IngestOptions
calls = []
def progress(n):
    calls.append(n)
    if len(calls) == 5:
        os._exit(3)  # as a kill: no finally, no lock released
ingest({str(disk_folder)!r}, {str(out)!r},
       options=IngestOptions(files_per_task=1, records_every_tasks=2, records_every_s=1e9),
       cluster=ClusterSpec(n_workers=1, threads_per_worker=2, processes=False),
       progress=progress)
"""
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == 3, killed.stderr
    assert lock_path(out).exists()  # left by the killed run
    assert _n_records(out) == 4  # two batches of two tasks; the fifth task's chunk unrecorded
    again = ingest(disk_folder, out, cluster=threads)
    assert again.n_new == 5 and again.n_unchanged == 4 and again.complete
    assert _records(out) == _records(clean)
    plate, reference = PlateStore(out), PlateStore(clean)
    for well, fields in reference.fields.items():
        for field_ in fields:
            np.testing.assert_array_equal(
                plate.image_array(well, field_)[:], reference.image_array(well, field_)[:]
            )
