"""The results store on a real Zarr store, read back with xarray."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.io import IngestOptions, PlateStore
from hts.results import ResultsStore, Status, open_results
from hts.results.store import check_results_store
from hts.testing import assert_qc_flags_decode, write_disk_plate


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


class _Crash(Exception):
    """A disk error (or a kill) at one write to the store."""


@contextmanager
def _crash_at(step: int) -> Iterator[list[int]]:
    """Fail the ``step``-th change to any local Zarr store; yields the running count.

    Wraps the real store's writes and deletes (no mock: everything before the step is on
    disk, nothing after it), so the store is left as a process killed there would leave it.
    """
    from zarr.storage import LocalStore

    count = [0]

    def wrap(name: str, method: Any) -> Any:
        async def failing(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] == step:
                raise _Crash(f"{name} {key}")
            return await method(self, key, *args, **kwargs)

        return failing

    with pytest.MonkeyPatch.context() as mp:
        for name in ("set", "set_if_not_exists", "delete", "delete_dir"):
            mp.setattr(LocalStore, name, wrap(name, getattr(LocalStore, name)))
        yield count


def _store_with_a_measurement_per_well(
    plate: PlateStore, disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> tuple[Path, PlateStore, dict[str, float]]:
    """A filled store of wells B02, B03, C02, and the plate grown by a well that sorts
    between them (B04): the plate's well order now differs from the store's."""
    path = tmp_path / "r.zarr"
    store = ResultsStore.sync(path, plate, wells_per_chunk=2)
    expected = {}
    for start in (0, 2):
        rows = slice(start, min(start + 2, 3))
        diameters = np.array([10.0 * (i + 1) for i in range(rows.start, rows.stop)])
        ok = np.full(len(diameters), Status.OK)
        store.write_block(rows, 0, {"diameter_um": diameters, "status": ok})
    for pos, value in zip(store.positions, (10.0, 20.0, 30.0), strict=True):
        expected[pos.label] = value
    write_disk_plate(disk_folder, wells=("B4",), plate_map=False)
    ingest(disk_folder, plate.path, cluster=threads)
    return path, PlateStore(plate.path), expected


def _assert_measurements_under_their_wells(path: Path, expected: dict[str, float]) -> None:
    """Through the xarray view users read, which checks the store first."""
    ds = open_results(path).load()
    assert ds.sizes["well"] == 4
    for label, value in expected.items():
        assert ds.diameter_um.sel(well=label).values[0] == value, label
        assert ds.status.sel(well=label).values[0] == Status.OK, label
    assert (ds.status.sel(well="B04").values == Status.PENDING).all()


def _assert_rows_kept(path: Path, expected: dict[str, float]) -> None:
    """The same, quicker: coordinates and values as stored."""
    check_results_store(path)
    store = ResultsStore(path)
    labels = [p.label for p in store.positions]
    assert [str(x) for x in store.read("well")] == labels
    diameter, status = store.read("diameter_um")[:, 0], store.read("status")
    for label, value in expected.items():
        assert diameter[labels.index(label)] == value, label
    assert (status[labels.index("B04")] == Status.PENDING).all()


@pytest.mark.parametrize("stride", [7, pytest.param(1, marks=pytest.mark.slow)])
def test_sync_cut_short_at_any_write_never_relabels_measurements(
    plate: PlateStore, disk_folder: Path, tmp_path: Path, threads: ClusterSpec, stride: int
) -> None:
    """Issue 13, case 1: a sync stopped between two writes (a kill, a disk error) must not
    leave measurements under another well's name, for the reader or after a re-run.

    Cut at every ``stride``-th write (every write with ``-m slow``: about 60)."""
    pristine, grown, expected = _store_with_a_measurement_per_well(
        plate, disk_folder, tmp_path, threads
    )
    path = tmp_path / "work.zarr"
    step = 1 - stride
    while True:
        step += stride
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(pristine, path)
        with _crash_at(step):
            try:
                ResultsStore.sync(path, grown)
                finished = True
            except _Crash:
                finished = False
        if not finished:
            # a reader of the interrupted store gets the right labels or a clear error
            try:
                ds = open_results(path).load()
            except ValueError as exc:
                assert "interrupted" in str(exc) and "hts run" in str(exc), exc
            else:
                for label, value in expected.items():
                    if label in ds.well.values:
                        got = ds.diameter_um.sel(well=label).values[0]
                        assert got == value, f"step {step}: {label}"
        ResultsStore.sync(path, grown)  # the re-run
        if finished:
            _assert_measurements_under_their_wells(path, expected)
            break
        _assert_rows_kept(path, expected)
    assert step > 40  # the sync was cut all along its writes


def test_sync_killed_mid_way_in_another_process_is_repaired_by_the_rerun(
    plate: PlateStore, disk_folder: Path, tmp_path: Path, threads: ClusterSpec
) -> None:
    """The same with a real kill: the process exits at its first write to the ``well``
    coordinate (old code: right after deleting it)."""
    path, grown, expected = _store_with_a_measurement_per_well(
        plate, disk_folder, tmp_path, threads
    )
    code = f"""
import os
from zarr.storage import LocalStore
from hts.io import PlateStore
from hts.results import ResultsStore

def killing(method):
    async def wrapper(self, key, *args, **kwargs):
        if key.startswith("well/"):
            os._exit(9)
        return await method(self, key, *args, **kwargs)
    return wrapper

for name in ("set", "set_if_not_exists", "delete", "delete_dir"):
    setattr(LocalStore, name, killing(getattr(LocalStore, name)))
ResultsStore.sync({str(path)!r}, PlateStore({str(grown.path)!r}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    ResultsStore.sync(path, grown)
    _assert_measurements_under_their_wells(path, expected)


def test_stores_written_before_labels_were_recorded_stay_readable(
    plate: PlateStore, tmp_path: Path
) -> None:
    """Stores of earlier versions have no ``labels`` attribute: their rows stay put."""
    import zarr

    path = tmp_path / "r.zarr"
    ResultsStore.sync(path, plate, wells_per_chunk=2)
    root = zarr.open_group(store=str(path), mode="r+", zarr_format=3)
    meta = root.attrs.asdict()["hts_results"]
    del meta["labels"]
    root.attrs["hts_results"] = meta
    assert [p.label for p in ResultsStore(path).positions] == ["B02", "B03", "C02"]
    assert list(open_results(path).well.values) == ["B02", "B03", "C02"]
    ResultsStore.sync(path, plate)
    assert ResultsStore(path).meta["labels"] == ["B02", "B03", "C02"]


def test_qc_flags_carry_cf_flag_masks_and_meanings(plate: PlateStore, tmp_path: Path) -> None:
    """A CF-aware reader decodes the flag bits by name from the store alone."""
    import zarr

    from hts.measure.qc import QC_BITS

    path = tmp_path / "r.zarr"
    store = ResultsStore.sync(path, plate, wells_per_chunk=2)
    bits = np.array([1 << QC_BITS["touches_border"], (1 << QC_BITS["no_object"]) | 1 << 4])
    store.write_block(slice(0, 2), 0, {"qc_flags": bits, "status": np.array([1, 1])})
    stored = zarr.open_group(store=str(path), mode="r", zarr_format=3)["qc_flags"].attrs.asdict()
    names = sorted(QC_BITS, key=QC_BITS.__getitem__)
    assert stored["flag_meanings"].split() == names
    assert stored["flag_masks"] == [1 << QC_BITS[n] for n in names]
    decoded = assert_qc_flags_decode(open_results(path).isel(timepoint=0))
    assert decoded["touches_border"].tolist() == [True, False, False]
    assert decoded["no_object"].tolist() == [False, True, False]
    assert decoded["out_of_focus"].tolist() == [False, True, False]
    assert not decoded["multiple_objects"].any()


def test_stores_written_before_cf_flag_attributes_open_and_are_upgraded(
    plate: PlateStore, tmp_path: Path
) -> None:
    """Earlier stores carry ``flag_meanings: ""`` and no ``flag_masks`` on qc_flags."""
    import zarr

    path = tmp_path / "r.zarr"
    ResultsStore.sync(path, plate, wells_per_chunk=2)
    meta_path = path / "qc_flags" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"] = {
        "long_name": "QC flag bits; see hts.measure.qc.QCFlags",
        "flag_meanings": "",
        "coordinates": meta["attributes"]["coordinates"],
    }
    meta_path.write_text(json.dumps(meta))
    assert_qc_flags_decode(open_results(path))  # read as the schema says
    ResultsStore.sync(path, plate)  # the next run's sync writes them into the store
    group = zarr.open_group(store=str(path), mode="r", zarr_format=3)
    assert group["qc_flags"].attrs["flag_meanings"] != ""
    assert "flag_masks" in group["qc_flags"].attrs
