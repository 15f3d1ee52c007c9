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
