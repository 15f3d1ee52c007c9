"""Planning an ingest: which files go where, decided from names, stats and headers alone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from hts.io import plan
from hts.io.ingest_report import ProblemKind
from hts.io.naming import NameFields
from hts.io.omezarr import TimepointInfo
from hts.io.plan import Candidate
from hts.io.readers import ImageHeader
from hts.wells import WellId

B3 = WellId.parse("B3")


def _cand(name: str, well: str = "B3", field: int = 1, t: str = "d0", size: int = 10) -> Candidate:
    fields = NameFields(WellId.parse(well), field, t)
    return Candidate(Path("/src") / name, name, fields, size, 1_000)


def _header(
    shape: tuple[int, int] = (4, 6), dtype: str = "uint16", pixel_size_um: float | None = 2.0
) -> ImageHeader:
    return ImageHeader(shape, np.dtype(dtype), 1, pixel_size_um, None)


def test_a_slot_claimed_twice_turns_every_claimant_away() -> None:
    a, b, c = _cand("a.tif"), _cand("b.tif"), _cand("c.tif", t="d1")
    slots, problems = plan.group_by_slot([a, b, c])
    assert slots == {c.key: c}
    assert sorted(p.path for p in problems) == ["a.tif", "b.tif"]
    assert {p.kind for p in problems} == {ProblemKind.SKIPPED}
    assert "several files for well B03 field 1 time point d0: a.tif, b.tif" in problems[0].reason


def test_unchanged_files_are_known_by_path_size_and_mtime_unless_verifying() -> None:
    same, moved, grown, new = (
        _cand("same.tif"),
        _cand("moved.tif", t="d1"),
        _cand("grown.tif", t="d2", size=11),
        _cand("new.tif", t="d3"),
    )
    existing = {
        same.key: {"source": "same.tif", "size": 10, "mtime_ns": 1_000},
        moved.key: {"source": "old/moved.tif", "size": 10, "mtime_ns": 1_000},
        grown.key: {"source": "grown.tif", "size": 10, "mtime_ns": 1_000},
    }
    slots = {c.key: c for c in (same, moved, grown, new)}
    assert plan.compare_with_plate(slots, existing, verify=False) == ([new], [moved, grown], 1)
    assert plan.compare_with_plate(slots, existing, verify=True) == ([new], [same, moved, grown], 0)
    assert "content changed" in plan.changed_reason(grown, existing[grown.key])
    assert "differs from 'old/moved.tif'" in plan.changed_reason(moved, existing[moved.key])


def test_absurd_sizes_are_refused_before_decoding() -> None:
    assert plan.check_size(_header((100, 100)), max_pixels=10_000) == ""
    reason = plan.check_size(_header((100, 101)), max_pixels=10_000)
    assert "header claims 101x100 px" in reason and "--max-image-pixels" in reason


@pytest.mark.parametrize(
    ("header", "given", "reason"),
    [
        (_header(), False, ""),
        (_header((4, 7)), False, "image is 7x4 px; plate images are 6x4"),
        (_header(dtype="uint8"), False, "pixel type uint8 differs from the plate's uint16"),
        (_header(pixel_size_um=2.01), False, ""),  # within 1 %
        (_header(pixel_size_um=2.5), False, "pixel size 2.5 um differs from the plate's 2 um"),
        (_header(pixel_size_um=2.5), True, ""),  # the command line's pixel size wins
    ],
)
def test_a_header_fits_the_plate_or_says_why_not(
    header: ImageHeader, given: bool, reason: str
) -> None:
    kwargs = {"shape": (4, 6), "dtype": np.dtype("uint16"), "pixel_size_given": given}
    assert plan.check_header(header, pixel_size_um=2.0, **kwargs) == reason


def test_no_pixel_size_anywhere_asks_for_one() -> None:
    header = _header(pixel_size_um=None)
    reason = plan.check_header(
        header, shape=(4, 6), dtype=np.dtype("uint16"), pixel_size_um=None, pixel_size_given=False
    )
    assert reason == "no pixel size in the file's metadata; pass --pixel-size-um"


def test_the_plate_pixel_size_is_given_else_stored_else_most_files() -> None:
    headers = [_header(pixel_size_um=p) for p in (1.0, 3.0, 3.0, None)]
    assert plan.plate_pixel_size(None, None, headers) == 3.0
    assert plan.plate_pixel_size(2.0, None, headers) == 2.0
    assert plan.plate_pixel_size(2.0, 2.01, headers) == 2.01
    assert plan.plate_pixel_size(None, None, [_header(pixel_size_um=None)]) is None
    with pytest.raises(ValueError, match=r"--pixel-size-um 3\.0 differs from the plate's 2\.0 um"):
        plan.plate_pixel_size(2.0, 3.0, headers)


def test_time_since_treatment_comes_from_the_name_else_the_clocks() -> None:
    treated, acquired = datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 3, 21, 0)
    named = NameFields(B3, 1, "d1", time_h=24.0)
    assert plan.time_since_treatment_h(named, acquired, treated) == 24.0
    unnamed = NameFields(B3, 1, "d1")
    assert plan.time_since_treatment_h(unnamed, acquired, treated) == 36.0
    assert plan.time_since_treatment_h(unnamed, acquired, None) is None


def test_new_time_points_are_appended_in_time_order_keeping_stored_indices() -> None:
    stored = [TimepointInfo(0, "d2", 48.0, None), TimepointInfo(1, "d9", None, None)]
    when = datetime(2026, 3, 2, 9, 0)
    timed = [
        ("d5", 120.0, None),
        ("d1", 23.0, when),
        ("d1", 25.0, datetime(2026, 3, 1)),
        ("d9", 216.0, None),  # a stored time point without a time gets one
        ("x", None, None),  # no time: last
    ]
    out = plan.extend_timepoints(stored, timed)
    assert [(tp.index, tp.label, tp.time_h) for tp in out] == [
        (0, "d2", 48.0),
        (1, "d9", 216.0),
        (2, "d1", 24.0),  # median of its images
        (3, "d5", 120.0),
        (4, "x", None),
    ]
    assert out[2].acquired_at == "2026-03-01T00:00:00"  # the earliest image's
    assert plan.extend_timepoints(out, timed) == out  # idempotent


def test_most_common_breaks_ties_by_first_seen() -> None:
    assert plan.most_common(["b", "a", "a", "b"]) == "b"
