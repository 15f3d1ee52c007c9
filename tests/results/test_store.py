"""The results store on a real Zarr store, read back with xarray."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hts.distributed.cluster import ClusterSpec
from hts.io import IngestOptions, PlateStore, ingest
from hts.results import ResultsStore, Status, open_results
from hts.testing import write_disk_plate


@pytest.fixture
def plate(disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec) -> PlateStore:
    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, options=IngestOptions(plate_map=plate_map), cluster=threads)
    return PlateStore(out)


def test_sync_creates_the_schema_with_plate_coordinates(plate: PlateStore, tmp_path: Path) -> None:
    path = tmp_path / "r.zarr"
    ResultsStore.sync(path, plate, wells_per_chunk=2)
    ds = open_results(path)
    assert dict(ds.sizes) == {"well": 3, "timepoint": 3}
    assert list(ds.well.values) == ["B02", "B03", "C02"]
    assert list(ds.arm.values) == ["untreated", "RT 5 Gy", "untreated"]
    np.testing.assert_allclose(ds.dose.values, [0.0, 5.0, 0.0])
    np.testing.assert_allclose(ds.day.values, [0.0, 1.0, 2.0])
    assert ds.diameter_um.attrs["units"] == "um"
    assert ds.volume_um3.chunks == ((2, 1), (1, 1, 1))  # lazy, chunked by (wells, 1 time point)
    assert (ds.status.values == Status.PENDING).all()
    assert np.isnan(ds.area_um2.values).all()
    assert "arm" in ds.coords and "time_h" in ds.coords
    assert ds.attrs["plate"] == "TEST01" and ds.attrs["pixel_size_um"] == pytest.approx(2.0)


def test_region_writes_land_and_sync_grows_without_losing_them(
    plate: PlateStore, disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    path = tmp_path / "r.zarr"
    store = ResultsStore.sync(path, plate, wells_per_chunk=2)
    store.write_block(
        slice(0, 2), 1, {"diameter_um": np.array([10.0, 20.0]), "status": np.array([1, 1])}
    )
    with pytest.raises(ValueError, match="aligned"):
        store.write_block(slice(1, 3), 0, {"status": np.array([1, 1])})

    write_disk_plate(disk_folder, days=(3,), plate_map=False)
    write_disk_plate(disk_folder, wells=("A1",), days=(0,), plate_map=False)
    ingest(disk_folder, plate.path, cluster=threads)
    ResultsStore.sync(path, PlateStore(plate.path))
    ds = open_results(path).load()
    assert dict(ds.sizes) == {"well": 4, "timepoint": 4}
    assert list(ds.well.values) == ["B02", "B03", "C02", "A01"]  # new positions appended
    assert ds.diameter_um.sel(well="B03").values[1] == 20.0
    assert ds.status.sel(well="B02").values.tolist() == [0, 1, 0, 0]
    np.testing.assert_allclose(ds.day.values, [0.0, 1.0, 2.0, 3.0])


def test_status_is_written_last_so_a_cut_write_is_redone(plate: PlateStore, tmp_path: Path) -> None:
    store = ResultsStore.sync(tmp_path / "r.zarr", plate, wells_per_chunk=2)
    values = {
        "status": np.array([Status.OK, Status.OK]),
        "diameter_um": np.array([10.0, 20.0]),
        "no_such_variable": np.array([1.0, 2.0]),  # the write stops here
    }
    with pytest.raises(KeyError):
        store.write_block(slice(0, 2), 0, values)
    status = store.read_block(slice(0, 2), 0, ["status"])["status"]
    assert (status != Status.OK).all()  # not marked done: a re-run redoes the block


def test_a_store_belongs_to_one_plate(
    plate: PlateStore, tmp_path: Path, threads: ClusterSpec
) -> None:
    path = tmp_path / "r.zarr"
    ResultsStore.sync(path, plate)
    other = tmp_path / "other"
    write_disk_plate(other, plate="OTHER", plate_map=False)
    ingest(other, tmp_path / "other.zarr", cluster=threads)
    with pytest.raises(ValueError, match="holds results of plate 'TEST01'"):
        ResultsStore.sync(path, PlateStore(tmp_path / "other.zarr"))


def test_open_results_names_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no results store"):
        open_results(tmp_path / "nope.zarr")
