"""Segmenting a plate on a real multi-process Dask cluster, with resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.distributed.run import run_plate
from hts.io import IngestOptions
from hts.results import Status, open_results
from hts.testing import assert_results_complete, write_disk_plate


@pytest.fixture(scope="module")
def processes() -> ClusterSpec:
    return ClusterSpec(n_workers=2, threads_per_worker=1, processes=True)


@pytest.fixture
def plate_path(disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec) -> Path:
    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, options=IngestOptions(plate_map=plate_map), cluster=threads)
    return out


def test_run_measures_every_image_and_resumes(
    plate_path: Path,
    disk_folder: Path,
    tmp_path: Path,
    processes: ClusterSpec,
    threads: ClusterSpec,
) -> None:
    results = tmp_path / "r.zarr"
    done: list[int] = []
    summary = run_plate(
        plate_path,
        results,
        segmenter="classical",
        cluster=processes,
        wells_per_chunk=2,
        progress=done.append,
    )
    assert summary.counts == {"ok": 9} and sum(done) == 9
    assert (summary.n_processed, summary.n_failed) == (9, 0)
    assert (summary.plate_path, summary.results_path) == (str(plate_path), str(results))
    assert summary.seconds > 0
    ds = open_results(results).load()
    assert (ds.status.values == Status.OK).all()
    assert_results_complete(ds, n_ok=9)
    assert set(ds.model_id.values.ravel()) == {"classical-1"}
    # disks of radius 15 + 2 px/day at 2 um/px: diameter 60, 68, 76 um
    expected = 2.0 * 2 * (15.0 + 2.0 * np.arange(3))
    np.testing.assert_allclose(ds.diameter_um.values, np.broadcast_to(expected, (3, 3)), rtol=0.06)
    np.testing.assert_allclose(ds.volume_um3, np.pi * ds.diameter_um**3 / 6)
    assert (ds.n_objects.values == 1).all()

    # nothing new: nothing done
    again = run_plate(
        plate_path, results, segmenter="classical", cluster=processes, wells_per_chunk=2
    )
    assert again.n_blocks == 0 and not again.counts

    # a new day arrives: only its three images are segmented
    write_disk_plate(disk_folder, days=(3,), plate_map=False)
    ingest(disk_folder, plate_path, cluster=threads)
    planned: list[int] = []
    more = run_plate(
        plate_path, results, segmenter="classical", cluster=processes, wells_per_chunk=2,
        on_plan=planned.append, progress=done.append,
    )  # fmt: skip
    assert more.counts == {"ok": 3} and more.reasons == {"new": 3}
    assert planned == [3] and sum(done) == 9 + 3 and more.n_blocks == 2  # wells 0:2 and 2:3
    ds2 = open_results(results).load()
    assert_results_complete(ds2, n_ok=12)
    np.testing.assert_array_equal(ds2.diameter_um.values[:, :3], ds.diameter_um.values)


def test_missing_images_and_failures_get_a_status(
    plate_path: Path, tmp_path: Path, processes: ClusterSpec
) -> None:
    # add a well that has only day 0, so the other days are NO_IMAGE slots
    folder = tmp_path / "images"
    write_disk_plate(folder, wells=("D4",), days=(0,), plate_map=False)
    ingest(folder, plate_path, cluster=ClusterSpec(n_workers=1, processes=False))
    # corrupt one stored chunk: the image becomes unreadable, the run carries on
    chunk = next((plate_path / "B" / "2" / "1" / "0" / "c").rglob("*"))
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    chunk.write_bytes(b"broken")
    results = tmp_path / "r.zarr"
    summary = run_plate(plate_path, results, segmenter="classical", cluster=processes)
    ds = open_results(results).load()
    d4 = ds.status.sel(well="D04").values.tolist()
    assert d4 == [Status.OK, Status.NO_IMAGE, Status.NO_IMAGE]
    assert summary.counts["failed"] == 1 and summary.counts["no_image"] == 2
    failed = ds.where(ds.status == Status.FAILED, drop=True)
    assert failed.sizes["well"] == 1
    assert "blosc" in str(failed.error.values[0, 0])
    assert_results_complete(ds, n_ok=9)  # the failed slot says why, no measurement stays
    # the failed slot is retried on the next run; the rest is left alone
    again = run_plate(plate_path, results, segmenter="classical", cluster=processes)
    assert sum(again.counts.values()) == 1 and again.reasons == {"failed before": 1}


def test_redo_reprocesses_everything(
    plate_path: Path, tmp_path: Path, processes: ClusterSpec
) -> None:
    results = tmp_path / "r.zarr"
    run_plate(plate_path, results, segmenter="classical", cluster=processes)
    redone = run_plate(plate_path, results, segmenter="classical", cluster=processes, redo=True)
    assert redone.counts == {"ok": 9} and redone.reasons == {"redo asked": 9}


def test_each_result_carries_its_image_time(
    plate_path: Path, tmp_path: Path, processes: ClusterSpec
) -> None:
    results = tmp_path / "r.zarr"
    run_plate(plate_path, results, segmenter="classical", cluster=processes)
    ds = open_results(results)
    np.testing.assert_allclose(ds.time_since_treatment_h.values, [[0.0, 24.0, 48.0]] * 3)


def test_results_of_older_post_processing_are_redone(
    plate_path: Path, tmp_path: Path, processes: ClusterSpec
) -> None:
    import zarr

    from hts.segment.postprocess import PROCESSING_VERSION

    results = tmp_path / "r.zarr"
    run_plate(plate_path, results, segmenter="classical", cluster=processes)
    ds = open_results(results).load()
    assert (ds.processing_version.values == PROCESSING_VERSION).all()
    # two results of an older version: only they are redone, and get the current version
    stored = zarr.open_array(str(results / "processing_version"), mode="r+")
    stored[0, 1] = stored[2, 2] = PROCESSING_VERSION - 1
    again = run_plate(plate_path, results, segmenter="classical", cluster=processes)
    assert again.counts == {"ok": 2} and again.reasons == {"other processing version": 2}
    assert again.line().endswith("2 ok (to do: 2 other processing version)")
    redone = open_results(results).load()
    assert (redone.processing_version.values == PROCESSING_VERSION).all()
    np.testing.assert_array_equal(redone.diameter_um.values, ds.diameter_um.values)
    # a store written before the version was recorded: every result is of unknown version
    zarr.open_group(str(results), mode="r+").__delitem__("processing_version")
    assert run_plate(plate_path, results, segmenter="classical", cluster=processes).counts == {
        "ok": 9
    }
