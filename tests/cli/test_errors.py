"""A new user's first mistakes: a clear message, an exit status, nothing half made left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hts.cli.main import EXIT_INCOMPLETE, main


def test_ingest_of_a_folder_without_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "readme.txt").write_text("x")
    plate = tmp_path / "P.zarr"
    for extra in ([], ["--pattern", "incucyte"]):
        assert main(["-q", "ingest", str(folder), "--out", str(plate), *extra]) == 1
        err = capsys.readouterr().err
        assert "no image files found" in err and "Traceback" not in err
        assert not plate.exists()


def test_ingest_where_no_image_can_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "TEST01_B2_1_2026y03m02d_09h30m.tif").write_bytes(b"not a tiff")
    plate = tmp_path / "P.zarr"
    assert main(["-q", "ingest", str(folder), "--out", str(plate)]) == EXIT_INCOMPLETE
    out = capsys.readouterr().out
    assert "skipped  TEST01_B2_1_2026y03m02d_09h30m.tif" in out
    assert "was not written" in out and not plate.exists()


def test_a_plate_map_typo_stops_ingest_with_the_column_named(
    disk_folder: Path, plate_map: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plate_map.write_text(plate_map.read_text().replace(",dose,", ",doze,", 1))
    plate = tmp_path / "P.zarr"
    args = ["-q", "ingest", str(disk_folder), "--out", str(plate), "--plate-map", str(plate_map)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "column 'doze'" in err and "did you mean 'dose'" in err and "Traceback" not in err
    assert not plate.exists()


def test_report_pointed_at_a_plate(
    disk_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It ended in a KeyError traceback and left a figures folder behind."""
    pytest.importorskip("matplotlib")
    plate = tmp_path / "P.zarr"
    assert main(["-q", "ingest", str(disk_folder), "--out", str(plate)]) == 0
    capsys.readouterr()
    out = tmp_path / "report" / "r.html"
    assert main(["report", str(plate), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "an OME-Zarr plate" in err and "hts run" in err and "P.results.zarr" in err
    assert not (tmp_path / "report").exists()
    assert main(["export", str(plate), "--out", str(tmp_path / "t.csv")]) == 1
    assert "not a results store" in capsys.readouterr().err


def test_a_bad_well_name_is_reported_by_file(
    disk_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = disk_folder / "TEST01_B2_1_2026y03m02d_09h30m.tif"
    shutil.copy(good, disk_folder / "TEST01_B99_1_2026y03m02d_09h30m.tif")
    plate = tmp_path / "P.zarr"
    assert main(["-q", "ingest", str(disk_folder), "--out", str(plate)]) == EXIT_INCOMPLETE
    out = capsys.readouterr().out
    assert "9 new images" in out
    assert "skipped  TEST01_B99_1_2026y03m02d_09h30m.tif: well 'B99' is outside" in out


def test_the_image_size_limit_is_a_documented_option(
    disk_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plate = tmp_path / "P.zarr"
    args = ["-q", "ingest", str(disk_folder), "--out", str(plate), "--max-image-pixels", "10000"]
    assert main(args) == EXIT_INCOMPLETE
    assert "header claims 128x96 px" in capsys.readouterr().out and not plate.exists()
