"""Plate maps and manifests as a lab writes them, typos included."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest

from hts.io.tables import TableError, WellInfo, read_manifest, read_plate_map
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


def test_a_plate_map_reads_into_typed_well_records(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text(
        "\ufeffplate, well ,cell_line,agent,dose,dose_unit,arm,replicate,treated_at,passage\n"
        "P1,B2,FaDu,X-ray,5,Gy,RT 5 Gy,1,2026-03-02T09:30,p12\n"
        "P1,b03,FaDu,,,,untreated,2,,\n"
        "P2,B2,HeLa,X-ray,2,Gy,RT 2 Gy,1,,\n"
    )
    wells = read_plate_map(path, plate="P1")
    assert sorted(wells) == [WellId.parse("B2"), WellId.parse("B3")]
    rt = wells[WellId.parse("B2")]
    assert (rt.cell_line, rt.agent, rt.dose, rt.dose_unit, rt.arm) == (
        "FaDu", "X-ray", 5.0, "Gy", "RT 5 Gy",
    )  # fmt: skip
    assert rt.treated_at == datetime(2026, 3, 2, 9, 30) and rt.extra == {"passage": "p12"}
    control = wells[WellId.parse("B3")]
    assert math.isnan(control.dose) and control.treated_at is None
    assert WellInfo.from_json(rt.to_json()) == rt  # as the plate stores it
    assert WellInfo.from_json(control.to_json()).arm == "untreated"
    assert read_plate_map(path, plate="P2")[WellId.parse("B2")].cell_line == "HeLa"
    with pytest.raises(TableError, match="well B02 listed twice"):
        read_plate_map(path)  # both plates' rows: B2 twice


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arm\nRT\n", r"missing column\(s\) well"),
        ("well,dose\nB2,five\n", r"line 2, column dose: not a number: 'five'"),
        ("well,treated_at\nB2,yesterday\n", r"line 2, column treated_at: not an ISO 8601 time"),
        ("well\nZ99\n", r"line 2, column well: not a well name|outside every plate format"),
    ],
)
def test_a_bad_plate_map_names_its_row_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.csv"
    path.write_text(text)
    with pytest.raises(TableError, match=message):
        read_plate_map(path)


def test_an_unreadable_table_is_a_table_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot read"):
        read_plate_map(tmp_path / "missing.csv")
    path = tmp_path / "binary.csv"
    path.write_bytes(b"well\n\xff\xfe\x00B2\n")
    with pytest.raises(TableError, match="not a readable CSV file"):
        read_plate_map(path)


def test_a_manifest_labels_time_points_from_whatever_it_gives(tmp_path: Path) -> None:
    path = tmp_path / "files.csv"
    path.write_text(
        "path,well,plate,field,timepoint,hours,acquired_at\n"
        "a.tif,B2,P1,2,t0,,\n"
        "sub/b.tif,B2,,,,36,\n"
        f"{tmp_path / 'c.tif'},C3,,,,,2026-03-02T09:30:00\n"
    )
    files = read_manifest(path, source=tmp_path)
    a = files[(tmp_path / "a.tif").resolve()]
    assert (a.well, a.field, a.timepoint, a.plate, a.time_h) == (
        WellId.parse("B2"),
        2,
        "t0",
        "P1",
        None,
    )
    b = files[(tmp_path / "sub" / "b.tif").resolve()]
    assert (b.field, b.timepoint, b.time_h, b.plate) == (1, "36h", 36.0, None)
    c = files[(tmp_path / "c.tif").resolve()]
    assert c.timepoint == "2026-03-02T09:30" and c.acquired_at == datetime(2026, 3, 2, 9, 30)
    path.write_text("path,well\na.tif,B2\n")
    with pytest.raises(
        TableError, match="line 2: no timepoint, days, hours, minutes or acquired_at"
    ):
        read_manifest(path, source=tmp_path)
    path.write_text("path,well,timepoint\na.tif,B2,t0\n./a.tif,B2,t1\n")
    with pytest.raises(TableError, match=r"line 3: file \./a\.tif listed twice"):
        read_manifest(path, source=tmp_path)
