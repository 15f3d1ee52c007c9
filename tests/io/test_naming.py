from datetime import datetime

import pytest

from hts.io.naming import NamingError, choose_pattern, compile_pattern, parse_name
from hts.wells import WellId


@pytest.mark.parametrize(
    ("preset", "path", "well", "field", "label"),
    [
        ("incucyte", "VID12_B3_2_2026y03m02d_09h30m.tif", "B03", 2, "2026-03-02T09:30"),
        (
            "imagexpress",
            "run1/TimePoint_4/Plate1_C11_s2_w1.TIF".replace(".TIF", ".tif"),
            "C11",
            2,
            "4",
        ),
        ("cytation", "B3_02_1_1_Bright Field_007.tif", "B03", 1, "7"),
        ("days", "P1_D05_day07.png", "D05", 1, "168h"),
        ("days", "P1_D05_d7_f3.tiff", "D05", 3, "168h"),
    ],
)
def test_presets_parse_real_names(
    preset: str, path: str, well: str, field: int, label: str
) -> None:
    fields = parse_name(path, compile_pattern(preset))
    assert fields.well == WellId.parse(well)
    assert fields.field == field
    assert fields.timepoint == label


def test_incucyte_timestamp_and_plate() -> None:
    fields = parse_name("sub/VID12_B3_1_2026y03m02d_09h30m.tif", compile_pattern("incucyte"))
    assert fields.plate == "VID12"
    assert fields.acquired_at == datetime(2026, 3, 2, 9, 30)
    assert fields.time_h is None


def test_days_give_time_since_treatment() -> None:
    assert parse_name("P_B2_day3.tif", compile_pattern("days")).time_h == 72.0


def test_custom_regex_with_row_and_column() -> None:
    pattern = compile_pattern(r"r(?P<row>[A-H])c(?P<column>\d+)_t(?P<timepoint>\d+)\.tif$")
    fields = parse_name("rBc07_t3.tif", pattern)
    assert fields.well == WellId(1, 7)
    assert fields.timepoint == "3"


def test_mismatch_and_missing_time_are_errors() -> None:
    with pytest.raises(NamingError, match="does not match"):
        parse_name("holiday_photo.tif", compile_pattern("incucyte"))
    with pytest.raises(NamingError, match="no time point"):
        parse_name("B3.tif", compile_pattern(r"(?P<well>[A-H]\d+)\.tif"))


def test_pattern_without_well_is_rejected() -> None:
    with pytest.raises(ValueError, match="well"):
        compile_pattern(r"(?P<timepoint>\d+)\.tif")
    with pytest.raises(ValueError, match="invalid"):
        compile_pattern(r"(?P<well>[")


def test_auto_picks_the_preset_matching_most_files() -> None:
    names = ["P_B2_day1.tif", "P_B3_day1.tif", "VID_B3_1_2026y03m02d_09h30m.tif"]
    assert choose_pattern(names)[0] == "days"
    with pytest.raises(ValueError, match="no naming preset"):
        choose_pattern(["a.tif", "b.tif"])


def test_days_hours_and_minutes_groups_add_up() -> None:
    """Issue 13, case 11: ``days``, ``hours`` and ``minutes`` of one name add up."""
    pattern = compile_pattern(r"(?P<well>[A-P]\d+)_(?P<days>\d+)d(?P<hours>\d+)h(?P<minutes>\d+)m")
    fields = parse_name("B3_2d05h30m.tif", pattern)
    assert fields.time_h == pytest.approx(53.5) and fields.timepoint == "53.5h"
    assert parse_name("VID1335_A7_1_00d05h00m.jpg", compile_pattern("incucyte")).time_h == 5.0
    assert choose_pattern(["VID1335_A7_1_00d05h00m.jpg"])[0] == "incucyte"


def test_a_folder_no_preset_reads_is_shown_what_presets_read() -> None:
    with pytest.raises(
        ValueError,
        match=r"any of the 2 image files \(e\.g\. a\.tif, b\.tif\).*"
        r"incucyte: VID123_B3_1_2026y03m02d_09h30m\.tif",
    ):
        choose_pattern(["a.tif", "b.tif"])


def test_wells_outside_every_plate_format_are_naming_errors() -> None:
    with pytest.raises(NamingError, match="'B99' is outside every plate format"):
        parse_name("P1_B99_day0.tif", compile_pattern("days"))
