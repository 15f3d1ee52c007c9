"""Well identifiers and plate formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hts.wells import PLATE_FORMATS, WellId, plate_format_for, row_name


@pytest.mark.parametrize("text", ["B3", "B03", "b3", " b 3 ", "B003"])
def test_the_spellings_of_a_well_parse_alike(text: str) -> None:
    well = WellId.parse(text)
    assert (well.row_index, well.column, well.row, well.name, str(well)) == (
        1,
        3,
        "B",
        "B03",
        "B03",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3B", "not a well name"),
        ("B", "not a well name"),
        ("B123", "not a well name"),
        ("BA1", "beyond a 1536-well plate"),
        ("AG1", "outside every plate format"),
        ("A49", "outside every plate format"),
    ],
)
def test_what_is_not_a_well_on_a_plate_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WellId.parse(text)


def test_row_names_run_past_z_as_on_1536_well_plates() -> None:
    assert [row_name(i) for i in (0, 25, 26, 31)] == ["A", "Z", "AA", "AF"]
    assert WellId.parse("AF48") == WellId(31, 48)
    with pytest.raises(ValueError, match=">= 0"):
        row_name(-1)
    with pytest.raises(ValueError, match="invalid well"):
        WellId(0, 0)


@given(st.integers(0, 31), st.integers(1, 48))
def test_a_name_parses_back_to_its_well(row_index: int, column: int) -> None:
    well = WellId(row_index, column)
    assert WellId.parse(well.name) == well
    assert WellId.parse(f"{well.row.lower()}{column}") == well


@given(st.lists(st.tuples(st.integers(0, 31), st.integers(1, 48)), min_size=2, max_size=20))
def test_wells_sort_as_their_names_sort_in_reading_order(cells: list[tuple[int, int]]) -> None:
    wells = [WellId(r, c) for r, c in cells]
    by_name = sorted(wells, key=lambda w: (len(w.row), w.name))
    assert sorted(wells) == by_name


def test_the_plate_format_is_the_smallest_that_holds_every_well() -> None:
    assert plate_format_for([]) == PLATE_FORMATS[6]
    assert plate_format_for([WellId.parse("B3")]) == PLATE_FORMATS[6]
    assert plate_format_for([WellId.parse("A4")]) == PLATE_FORMATS[12]
    assert plate_format_for([WellId.parse("H12"), WellId.parse("A1")]) == PLATE_FORMATS[96]
    assert plate_format_for([WellId.parse("I1")]) == PLATE_FORMATS[384]
    assert plate_format_for([WellId.parse("AF48")]) == PLATE_FORMATS[1536]
    with pytest.raises(ValueError, match="larger than 1536 wells"):
        plate_format_for([WellId(32, 1)])
