"""Plate maps and manifests as a lab writes them, typos included."""

from __future__ import annotations

from pathlib import Path

import pytest

from hts.io.tables import TableError, read_manifest, read_plate_map
from hts.wells import WellId


def test_a_misspelt_plate_map_column_is_an_error_not_an_extra(tmp_path: Path) -> None:
    """Issue 13, case 12: ``doze`` was kept as an extra column and dose became NaN."""
    path = tmp_path / "map.csv"
    path.write_text("well,arm,doze\nB2,RT,5\n")
    with pytest.raises(TableError, match=r"map\.csv: column 'doze' .* did you mean 'dose'\?"):
        read_plate_map(path)
    path.write_text("well,arm,dose,passage,notes\nB2,RT,5,p12,ok\n")  # own columns are kept
    info = read_plate_map(path)[WellId.parse("B2")]
    assert info.dose == 5.0 and info.extra == {"passage": "p12", "notes": "ok"}


def test_manifest_columns_are_checked_and_minutes_add_up(tmp_path: Path) -> None:
    path = tmp_path / "files.csv"
    path.write_text("path,well,hour\na.tif,B2,5\n")
    with pytest.raises(TableError, match=r"column 'hour' .* did you mean 'hours'"):
        read_manifest(path, source=tmp_path)
    path.write_text("path,well,days,hours,minutes\na.tif,B2,1,5,30\n")
    (fields,) = read_manifest(path, source=tmp_path).values()
    assert fields.time_h == pytest.approx(29.5)


def test_the_documented_manifest_is_the_one_read(tmp_path: Path) -> None:
    """Issue 13, case 15: the manifest's format was documented only in a docstring."""
    import re

    from hts.io.tables import _MANIFEST_COLUMNS

    doc = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"
    section = doc.read_text(encoding="utf-8").split("### File names and the manifest")[1]
    section = section.split("\n### ")[0]
    rows = re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|", section, re.M)
    assert {c for row in rows for c in re.findall(r"`([a-z_]+)`", row)} == set(_MANIFEST_COLUMNS)
    manifest = tmp_path / "files.csv"
    manifest.write_text(section.split("```csv\n")[1].split("```")[0])
    read = read_manifest(manifest, source=tmp_path)
    first = read[(tmp_path / "day0" / "scan-B3.tif").resolve()]
    assert first.well == WellId.parse("B3") and first.field == 1 and first.time_h == 0.0
    assert read[(tmp_path / "day1" / "scan-B3.tif").resolve()].time_h == 24.0
