"""Damaged plates (deleted or overwritten chunks, changed sources) on real Zarr stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hts.cli.main import EXIT_INCOMPLETE, main
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.distributed.run import run_plate
from hts.io import IngestOptions, PlateStore, ProblemKind, read_image
from hts.io.omezarr import DamagedImageError
from hts.io.verify import verify_plate
from hts.results import Status, open_results
from hts.wells import WellId

B3 = WellId.parse("B3")
C2 = WellId.parse("C2")


@pytest.fixture
def plate_path(disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec) -> Path:
    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, options=IngestOptions(plate_map=plate_map), cluster=threads)
    return out


def _chunk(plate: Path, well: WellId, t: int) -> Path:
    return plate / well.row / str(well.column) / "1" / "0" / "c" / str(t) / "0" / "0"


def _damage(plate: Path) -> None:
    """B03 t=1: chunk deleted. C02 t=2: overwritten with another image's bytes (decodes)."""
    _chunk(plate, B3, 1).unlink()
    shutil.copyfile(_chunk(plate, C2, 0), _chunk(plate, C2, 2))


def test_a_damaged_image_fails_its_slot_with_a_clear_reason(
    plate_path: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    """Issue 13, case 2: a deleted chunk read as zeros and segmented as 'ok, no object';
    overwritten bytes that still decode were segmented as if nothing happened."""
    _damage(plate_path)
    results = tmp_path / "r.zarr"
    summary = run_plate(
        plate_path, results, segmenter="classical", cluster=threads, wells_per_chunk=2
    )
    ds = open_results(results).load()
    assert summary.counts.get("failed") == 2
    deleted = ds.sel(well="B03").isel(timepoint=1)
    overwritten = ds.sel(well="C02").isel(timepoint=2)
    assert deleted.status == Status.FAILED and overwritten.status == Status.FAILED
    assert "is missing from the plate" in str(deleted.error.values)
    assert "checksum mismatch" in str(overwritten.error.values)
    assert (ds.status.values == Status.OK).sum() == 7  # the rest is untouched


def test_reading_checks_the_recorded_checksum(plate_path: Path, disk_folder: Path) -> None:
    plate = PlateStore(plate_path)
    source = disk_folder / "TEST01_B3_1_2026y03m03d_09h30m.tif"
    np.testing.assert_array_equal(plate.read_image(B3, 1, 1), read_image(source).pixels)
    _damage(plate_path)
    with pytest.raises(DamagedImageError, match=r"B03 field 1 time point 1 .* missing"):
        plate.read_image(B3, 1, 1)
    with pytest.raises(DamagedImageError, match=r"C02 field 1 time point 2 .*checksum mismatch"):
        plate.read_image(C2, 1, 2)
    assert not plate.read_image(B3, 1, 1, verify=False).any()  # what it used to read


def test_verify_checks_the_whole_plate_and_its_sources(
    plate_path: Path, disk_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = verify_plate(plate_path)
    assert clean.ok and clean.n_images == 9 and clean.n_unverified == 0
    assert main(["-q", "verify", str(plate_path)]) == 0
    assert "9 images recorded, 0 damaged" in capsys.readouterr().out

    _damage(plate_path)
    (disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif").unlink()
    changed = disk_folder / "TEST01_C2_1_2026y03m03d_09h30m.tif"
    changed.write_bytes(changed.read_bytes() + b"\0")
    check = verify_plate(plate_path)
    kinds = {(p.path, p.kind) for p in check.problems}
    assert kinds == {
        ("TEST01_B3_1_2026y03m03d_09h30m.tif", ProblemKind.DAMAGED),
        ("TEST01_C2_1_2026y03m04d_09h30m.tif", ProblemKind.DAMAGED),
        ("TEST01_B2_1_2026y03m02d_09h30m.tif", ProblemKind.SOURCE),
        ("TEST01_C2_1_2026y03m03d_09h30m.tif", ProblemKind.SOURCE),
    }
    assert main(["-q", "verify", str(plate_path)]) == EXIT_INCOMPLETE
    out = capsys.readouterr().out
    assert "2 damaged" in out and "source file not found" in out and "changed since" in out


def test_stores_without_checksums_stay_readable_and_say_so(
    plate_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plate ingested before pixel checksums: read as before, reported as unverified."""
    plate = PlateStore(plate_path, mode="r+")
    for well, fields in plate.fields.items():
        for field_ in fields:
            group = plate._root[f"{well.row}/{well.column}/{field_}"]
            hts = group.attrs.asdict()["hts"]
            for record in hts["images"].values():
                record.pop("pixels_sha256")
            group.attrs["hts"] = hts
    shutil.copyfile(_chunk(plate_path, C2, 0), _chunk(plate_path, C2, 2))
    assert plate.read_image(C2, 1, 2).shape == (96, 128)  # cannot tell: no checksum
    check = verify_plate(plate_path)
    assert check.ok and check.n_unverified == 9
    assert main(["-q", "verify", str(plate_path)]) == 0
    assert "9 images have no pixel checksum" in capsys.readouterr().out


def test_ingest_verify_rewrites_damaged_images_from_their_source(
    plate_path: Path, disk_folder: Path, threads: ClusterSpec
) -> None:
    _damage(plate_path)
    plain = ingest(disk_folder, plate_path, cluster=threads)
    assert plain.n_new == 0  # without --verify, stored pixels are not read
    report = ingest(disk_folder, plate_path, options=IngestOptions(verify=True), cluster=threads)
    assert report.n_new == 2 and report.complete
    warnings = {p.path: p.reason for p in report.problems if p.kind == ProblemKind.WARNING}
    assert "re-written from the source" in warnings["TEST01_B3_1_2026y03m03d_09h30m.tif"]
    assert verify_plate(plate_path).ok
    source = disk_folder / "TEST01_C2_1_2026y03m04d_09h30m.tif"
    np.testing.assert_array_equal(
        PlateStore(plate_path).read_image(C2, 1, 2), read_image(source).pixels
    )
    # a damaged image whose source is gone cannot be repaired: said so, not complete
    _chunk(plate_path, B3, 1).unlink()
    (disk_folder / "TEST01_B3_1_2026y03m03d_09h30m.tif").unlink()
    again = ingest(disk_folder, plate_path, options=IngestOptions(verify=True), cluster=threads)
    assert not again.complete
    assert [p.kind for p in again.problems] == [ProblemKind.DAMAGED]
    assert "not repaired" in again.problems[0].reason
