"""The OME-Zarr plate store on a real Zarr store: layout, growth, provenance, damage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hts.io.omezarr import (
    DamagedImageError,
    PlateStore,
    TimepointInfo,
    image_metadata,
    pixels_sha256,
    plate_metadata,
    well_metadata,
    write_image_chunk,
)
from hts.wells import WellId

B2, C11 = WellId.parse("B2"), WellId.parse("C11")
SHAPE = (6, 8)


def _timepoints(n: int) -> list[TimepointInfo]:
    return [TimepointInfo(i, f"d{i}", 24.0 * i, None) for i in range(n)]


def _image(value: int) -> np.ndarray:
    return np.arange(48, dtype=np.uint16).reshape(SHAPE) + value


def _plate(
    path: Path, *, n_t: int = 2, fields: dict[WellId, list[int]] | None = None
) -> PlateStore:
    store = PlateStore(path, mode="a")
    store.set_plate(
        name="P1",
        image_shape=SHAPE,
        dtype=np.dtype("uint16"),
        pixel_size_um=1.5,
        timepoints=_timepoints(n_t),
        fields=fields or {B2: [1], C11: [1, 2]},
        well_info={B2: {"arm": "RT"}},
    )
    return store


def _write(store: PlateStore, well: WellId, field: int, t: int, pixels: np.ndarray) -> None:
    write_image_chunk(str(store.path), well, field, t, pixels)
    record = {"source": f"{well}_{field}_{t}.tif", "pixels_sha256": pixels_sha256(pixels)}
    store.add_image_records(well, field, {t: record})


def test_a_new_plate_records_its_facts_and_reads_back(tmp_path: Path) -> None:
    _plate(tmp_path / "p.zarr")
    plate = PlateStore(tmp_path / "p.zarr")
    assert plate.exists and plate.name == "P1"
    assert plate.image_shape == SHAPE and plate.dtype == np.uint16
    assert plate.pixel_size_um == 1.5
    assert plate.timepoints == _timepoints(2)
    assert plate.fields == {B2: [1], C11: [1, 2]}
    assert plate.well_info == {B2: {"arm": "RT"}}
    assert plate.image_array(C11, 2).shape == (2, *SHAPE)
    assert plate.image_records(B2, 1) == {}
    assert not plate.chunk_exists(B2, 1, 0)
    assert (plate.read_image(B2, 1, 0) == 0).all()  # an empty slot reads as zeros


def test_written_images_read_back_verified(tmp_path: Path) -> None:
    store = _plate(tmp_path / "p.zarr")
    _write(store, C11, 2, 1, _image(7))
    plate = PlateStore(tmp_path / "p.zarr")
    assert plate.chunk_exists(C11, 2, 1)
    np.testing.assert_array_equal(plate.read_image(C11, 2, 1), _image(7))
    assert list(plate.image_records(C11, 2)) == [1]


def test_an_image_that_does_not_fit_the_plate_is_refused(tmp_path: Path) -> None:
    store = _plate(tmp_path / "p.zarr")
    with pytest.raises(ValueError, match="does not fit plate array"):
        write_image_chunk(str(store.path), B2, 1, 0, np.zeros((6, 9), np.uint16))
    with pytest.raises(ValueError, match="does not fit plate array"):
        write_image_chunk(str(store.path), B2, 1, 0, np.zeros(SHAPE, np.uint8))


def test_growing_the_plate_keeps_what_it_holds(tmp_path: Path) -> None:
    store = _plate(tmp_path / "p.zarr")
    _write(store, B2, 1, 1, _image(1))
    store = _plate(
        tmp_path / "p.zarr", n_t=4, fields={B2: [1], C11: [1, 2], WellId.parse("H12"): [1]}
    )
    plate = PlateStore(tmp_path / "p.zarr")
    assert len(plate.timepoints) == 4
    assert plate.image_array(B2, 1).shape == (4, *SHAPE)
    np.testing.assert_array_equal(plate.read_image(B2, 1, 1), _image(1))
    assert WellId.parse("H12") in plate.fields


def test_a_plate_half_made_by_a_killed_ingest_is_completed(tmp_path: Path) -> None:
    """New wells and fields are created together; whatever part of them a killed run left
    on disk (a field group without its array, a field without its well group, an array)
    the next run completes to the same plate as one made in one go."""
    import shutil

    whole = tmp_path / "whole.zarr"
    _plate(whole, n_t=3, fields={B2: [1, 2], C11: [1, 2]})
    _plate(whole, n_t=4, fields={B2: [1, 2], C11: [1, 2]})
    half = tmp_path / "half.zarr"
    _plate(half, n_t=3, fields={B2: [1, 2], C11: [1, 2]})
    shutil.rmtree(half / "B" / "2" / "2" / "0")  # a field group without its array
    (half / "C" / "11" / "zarr.json").unlink()  # fields without their well group
    _plate(half, n_t=4, fields={B2: [1, 2], C11: [1, 2]})  # and one more time point
    documents = {
        p.relative_to(half): p.read_bytes() for p in half.rglob("zarr.json") if p.parent != half
    }
    assert documents == {
        p.relative_to(whole): p.read_bytes() for p in whole.rglob("zarr.json") if p.parent != whole
    }
    _write(PlateStore(half, mode="a"), B2, 2, 1, _image(3))
    np.testing.assert_array_equal(PlateStore(half).read_image(B2, 2, 1), _image(3))


def test_provenance_records_merge_in_time_order_and_runs_append(tmp_path: Path) -> None:
    store = _plate(tmp_path / "p.zarr", n_t=12)
    store.add_image_records(B2, 1, {10: {"source": "b"}})
    store.add_image_records(B2, 1, {2: {"source": "a"}, 10: {"source": "c"}})
    assert store.image_records(B2, 1) == {2: {"source": "a"}, 10: {"source": "c"}}
    store.append_ingest_run({"n_new": 1})
    store.append_ingest_run({"n_new": 2})
    assert [r["n_new"] for r in PlateStore(tmp_path / "p.zarr").ingest_runs] == [1, 2]


def test_a_damaged_image_fails_loudly(tmp_path: Path) -> None:
    store = _plate(tmp_path / "p.zarr")
    _write(store, B2, 1, 0, _image(0))
    _write(store, B2, 1, 1, _image(1))
    chunk = Path(store.path, "B", "2", "1", "0", "c", "1", "0", "0")
    assert chunk.is_file()
    chunk.write_bytes(chunk.read_bytes()[:10])  # truncated
    with pytest.raises(DamagedImageError, match="cannot be decoded"):
        store.read_image(B2, 1, 1)
    write_image_chunk(str(store.path), B2, 1, 1, _image(2))  # other pixels than recorded
    with pytest.raises(DamagedImageError, match="checksum mismatch"):
        store.read_image(B2, 1, 1)
    np.testing.assert_array_equal(store.read_image(B2, 1, 1, verify=False), _image(2))
    chunk.unlink()
    with pytest.raises(DamagedImageError, match="missing from the plate"):
        store.read_image(B2, 1, 1)
    np.testing.assert_array_equal(store.read_image(B2, 1, 0), _image(0))  # the others are fine


def test_what_is_not_a_plate_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a Zarr store"):
        PlateStore(tmp_path / "nothing.zarr")
    import zarr

    zarr.open_group(store=str(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    with pytest.raises(ValueError, match="not an OME-Zarr plate"):
        PlateStore(tmp_path / "g.zarr")
    assert not PlateStore(tmp_path / "g.zarr", mode="a").exists


def test_metadata_validates_against_the_ngff_models(tmp_path: Path) -> None:
    import zarr
    from ome_zarr_models.v05.hcs import HCS
    from ome_zarr_models.v05.image import Image

    _plate(tmp_path / "p.zarr")
    HCS.from_zarr(zarr.open_group(tmp_path / "p.zarr", mode="r"))
    Image.from_zarr(zarr.open_group(tmp_path / "p.zarr" / "C" / "11" / "2", mode="r"))


def test_plate_metadata_lists_the_smallest_format_that_holds_the_wells() -> None:
    meta = plate_metadata("P", [C11, B2, B2], field_count=2)["plate"]
    assert (len(meta["rows"]), len(meta["columns"])) == (8, 12)
    assert meta["wells"] == [
        {"path": "B/2", "rowIndex": 1, "columnIndex": 1},
        {"path": "C/11", "rowIndex": 2, "columnIndex": 10},
    ]
    meta = plate_metadata("P", [WellId.parse("P24")], field_count=1)["plate"]
    assert (len(meta["rows"]), len(meta["columns"])) == (16, 24)
    assert well_metadata([3, 1]) == {
        "version": "0.5",
        "well": {"images": [{"path": "1"}, {"path": "3"}]},
    }
    (scale,) = image_metadata("x", pixel_size_um=0.65)["multiscales"][0]["datasets"][0][
        "coordinateTransformations"
    ]
    assert scale == {"type": "scale", "scale": [1.0, 0.65, 0.65]}


def test_pixel_checksums_see_dtype_and_values_not_memory_layout() -> None:
    image = _image(0)
    assert pixels_sha256(image) == pixels_sha256(np.asfortranarray(image))
    assert pixels_sha256(image) != pixels_sha256(image.astype(np.uint32))
    assert pixels_sha256(image) != pixels_sha256(_image(1))
