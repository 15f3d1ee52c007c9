"""Tests for hts.synth.plate: layout, names, metadata and byte-identical output."""

from __future__ import annotations

import csv
import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from hts.synth.plate import image_name, layout_wells, write_synthetic_plate
from hts.synth.scene import synthesize_image
from hts.wells import WellId

NAME_RE = re.compile(
    r"^(?P<plate>[^_]+)_(?P<well>[A-P]\d{1,2})_(?P<field>\d+)_(?P<year>\d{4})y(?P<month>\d{2})m"
    r"(?P<day>\d{2})d_(?P<hour>\d{2})h(?P<minute>\d{2})m\.tif$"
)
SMALL = {"wells": 6, "days": 3, "shape": (128, 160), "pixel_size_um": 12.8}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    calls: list[int] = []
    out = tmp_path_factory.mktemp("plate")
    result = write_synthetic_plate(out, seed=3, fields=2, progress=calls.append, **SMALL)
    return result, calls


def test_layout_starts_at_b2_and_skips_edge_wells() -> None:
    wells = layout_wells(60)
    assert wells[0] == WellId.parse("B2")
    assert wells[9] == WellId.parse("B11")
    assert wells[10] == WellId.parse("C2")
    assert wells[-1] == WellId.parse("G11")
    big = layout_wells(61)
    assert big[21] == WellId.parse("B23")
    assert big[22] == WellId.parse("C2")
    assert len(layout_wells(308)) == 308
    with pytest.raises(ValueError):
        layout_wells(309)
    with pytest.raises(ValueError):
        layout_wells(0)


def test_image_name_parses() -> None:
    name = image_name("SYN01", WellId.parse("B03"), 2, datetime(2026, 3, 4, 9, 5))
    assert name == "SYN01_B3_2_2026y03m04d_09h05m.tif"
    assert NAME_RE.match(name)
    with pytest.raises(ValueError):
        image_name("SYN_01", WellId.parse("B3"), 1, datetime(2026, 3, 4))


def test_layout_on_disk(plate) -> None:
    result, calls = plate
    n_expected = SMALL["wells"] * SMALL["days"] * 2
    assert result.n_images == n_expected
    assert calls == [1] * n_expected
    images = sorted(result.images_dir.iterdir())
    masks = sorted(result.masks_dir.iterdir())
    assert len(images) == len(masks) == n_expected
    assert result.readme.read_text(encoding="utf-8").strip()
    start = datetime.fromisoformat("2026-03-02T09:30")
    stamps = {start + timedelta(hours=24 * k) for k in range(SMALL["days"])}
    wells = {f"{w.row}{w.column}" for w in result.wells}
    for path in images:
        match = NAME_RE.match(path.name)
        assert match, path.name
        assert match["plate"] == "SYN01"
        assert match["well"] in wells
        assert match["field"] in {"1", "2"}
        stamp = datetime(*(int(match[k]) for k in ("year", "month", "day", "hour", "minute")))
        assert stamp in stamps
        assert (result.masks_dir / f"{path.stem}.png").is_file()


def test_tiff_metadata_round_trips(plate) -> None:
    result, _ = plate
    row = _rows(result.truth_csv)[-1]
    with tifffile.TiffFile(result.out_dir / row["image"]) as tif:
        page = tif.pages[0]
        assert page.dtype == np.uint16
        assert page.shape == SMALL["shape"]
        x_res, y_res = page.get_resolution()
        assert page.resolutionunit == tifffile.RESUNIT.CENTIMETER
        assert 1e4 / x_res == pytest.approx(SMALL["pixel_size_um"], rel=1e-6)
        assert 1e4 / y_res == pytest.approx(SMALL["pixel_size_um"], rel=1e-6)
        assert page.datetime == datetime.fromisoformat(row["acquired_at"])


def test_truth_matches_the_masks(plate) -> None:
    result, _ = plate
    rows = _rows(result.truth_csv)
    assert len(rows) == result.n_images
    um = SMALL["pixel_size_um"]
    for row in rows:
        mask = cv2.imread(str(result.out_dir / row["mask"]), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8
        assert set(np.unique(mask).tolist()) <= {0, 255}
        area_um2 = float(row["area_um2"])
        d = float(row["diameter_um"])
        assert d == pytest.approx(math.sqrt(4 * area_um2 / math.pi), rel=1e-4)
        assert float(row["volume_um3"]) == pytest.approx(math.pi * d**3 / 6, rel=1e-4)
        if int(row["n_spheroids"]) == 1:
            assert area_um2 == pytest.approx((mask > 0).sum() * um * um, rel=1e-5)
        assert row["category"] in {"clean", "debris"}
        assert float(row["time_h"]) == pytest.approx(24 * float(row["day"]))


def test_tables_describe_the_plate(plate) -> None:
    result, _ = plate
    plate_map = _rows(result.plate_map_csv)
    assert list(plate_map[0]) == [
        "plate", "well", "cell_line", "agent", "dose", "dose_unit", "arm", "replicate",
        "treated_at",
    ]  # fmt: skip
    assert [r["well"] for r in plate_map] == ["B2", "B3", "B4", "B5", "B6", "B7"]
    for r in plate_map:
        assert (r["agent"] == "none") == (r["arm"] == "untreated") == (float(r["dose"]) == 0)
        assert r["dose_unit"] == "Gy"
        assert r["treated_at"] == "2026-03-02T09:30:00"
    spheroids = _rows(result.spheroids_csv)
    for row, h in zip(spheroids, result.histories, strict=True):
        assert row["well"] == f"{h.well.row}{h.well.column}"
        assert row["fate"] == h.fate
        if h.fate == "relapse":
            assert float(row["relapse_time_h"]) == h.relapse_time_h
        else:
            assert row["relapse_time_h"] == ""
    assert result.scenario.true_scd50_gy > 0


def test_any_image_regenerates_alone(plate) -> None:
    result, _ = plate
    row = _rows(result.truth_csv)[7]
    h = next(h for h in result.histories if f"{h.well.row}{h.well.column}" == row["well"])
    k = result.times_h.index(float(row["time_h"]))
    image, mask, _ = synthesize_image(
        h, k, seed=3, field=int(row["field"]), shape=SMALL["shape"],
        pixel_size_um=SMALL["pixel_size_um"],
    )  # fmt: skip
    np.testing.assert_array_equal(tifffile.imread(result.out_dir / row["image"]), image)
    stored = cv2.imread(str(result.out_dir / row["mask"]), cv2.IMREAD_UNCHANGED) > 0
    np.testing.assert_array_equal(stored, mask)


def test_same_seed_gives_byte_identical_files(plate, tmp_path: Path) -> None:
    result, _ = plate
    again = write_synthetic_plate(tmp_path / "again", seed=3, fields=2, **SMALL)
    files = sorted(p.relative_to(result.out_dir) for p in result.out_dir.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(again.out_dir) for p in again.out_dir.rglob("*") if p.is_file()
    )
    for rel in files:
        assert (result.out_dir / rel).read_bytes() == (again.out_dir / rel).read_bytes(), rel
    other = write_synthetic_plate(tmp_path / "other", seed=4, fields=2, **SMALL)
    first_image = next(rel for rel in files if rel.suffix == ".tif")
    assert (other.out_dir / first_image).read_bytes() != (result.out_dir / first_image).read_bytes()


def test_invalid_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_synthetic_plate(tmp_path, days=1, **{k: v for k, v in SMALL.items() if k != "days"})
    with pytest.raises(ValueError):
        write_synthetic_plate(tmp_path, fields=0, **SMALL)
