"""Faults on real worker processes: a killed worker, a killed run, two runs at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from distributed import Client, LocalCluster

from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.distributed.run import run_plate
from hts.io import IngestOptions
from hts.io.lock import StoreLocked, lock_path
from hts.results import Status, open_results
from hts.testing import write_disk_plate

SLOW = "slow-classical"


@pytest.fixture
def plate_path(tmp_path: Path, threads: ClusterSpec) -> Path:
    folder = tmp_path / "images"
    write_disk_plate(folder, wells=("B2", "B3", "C2", "C3"), days=(0, 1, 2))
    out = tmp_path / "plate.zarr"
    ingest(
        folder,
        out,
        options=IngestOptions(plate_map=tmp_path / "images_plate_map.csv"),
        cluster=threads,
    )
    return out


@pytest.fixture
def reference(plate_path: Path, tmp_path: Path) -> xr.Dataset:
    """An uninterrupted run (same segmentation as the slow one, without the waiting)."""
    out = tmp_path / "reference.zarr"
    os.environ["HTS_TEST_DELAY_S"] = "0"
    try:
        run_plate(
            plate_path, out, segmenter=SLOW, cluster=ClusterSpec(n_workers=1), wells_per_chunk=1
        )
    finally:
        os.environ.pop("HTS_TEST_DELAY_S")
    return open_results(out).load()


def _n_ok(results: Path) -> int:
    try:
        return int((zarr.open_array(store=str(results / "status"), mode="r")[:] == Status.OK).sum())
    except Exception:  # noqa: BLE001 - the store may not exist yet
        return 0


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def _assert_same(ds: xr.Dataset, reference: xr.Dataset) -> None:
    assert (ds.status.values == Status.OK).all()
    for name in reference.data_vars:
        a, b = ds[name].values, reference[name].values
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert (a == b).all(), name


def test_a_killed_worker_loses_and_duplicates_nothing(
    plate_path: Path, tmp_path: Path, reference: xr.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTS_TEST_DELAY_S", "0.4")
    results = tmp_path / "r.zarr"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        outcome: dict[str, object] = {}

        def run() -> None:
            outcome["summary"] = run_plate(
                plate_path,
                results,
                segmenter=SLOW,
                cluster=ClusterSpec(cluster.scheduler_address),
                wells_per_chunk=1,
            )

        thread = threading.Thread(target=run)
        thread.start()
        _wait_for(lambda: _n_ok(results) >= 1)
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)  # its nanny restarts it; its task is retried
        thread.join(timeout=180)
        assert not thread.is_alive()
    summary = outcome["summary"]
    assert summary.counts == {"ok": 12}  # type: ignore[attr-defined]
    _assert_same(open_results(results).load(), reference)


def test_a_killed_run_resumes_to_the_same_dataset(
    plate_path: Path, tmp_path: Path, reference: xr.Dataset
) -> None:
    results = tmp_path / "r.zarr"
    command = [
        sys.executable, "-m", "hts.cli.main", "-q", "run", str(plate_path), "--results", str(results),
        "--model", SLOW, "--workers", "2",
    ]  # fmt: skip
    env = {**os.environ, "HTS_TEST_DELAY_S": "0.4"}
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        _wait_for(lambda: _n_ok(results) >= 2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, mid-flight
        proc.wait()
    assert 2 <= _n_ok(results) < 12
    assert lock_path(results).exists()  # left behind by the killed run
    summary = run_plate(plate_path, results, segmenter=SLOW, cluster=ClusterSpec(n_workers=2))
    assert 0 < sum(summary.counts.values()) <= 10  # only what was missing
    _assert_same(open_results(results).load(), reference)


def test_a_second_run_on_the_same_store_refuses(plate_path: Path, tmp_path: Path) -> None:
    results = tmp_path / "r.zarr"
    command = [
        sys.executable,
        "-m",
        "hts.cli.main",
        "-q",
        "run",
        str(plate_path),
        "--results",
        str(results),
        "--model",
        SLOW,
    ]
    proc = subprocess.Popen(command, env={**os.environ, "HTS_TEST_DELAY_S": "0.3"})
    try:
        _wait_for(lambda: lock_path(results).exists())
        with pytest.raises(StoreLocked, match="being written by another run"):
            run_plate(plate_path, results, segmenter=SLOW, cluster=ClusterSpec(n_workers=1))
    finally:
        assert proc.wait(timeout=180) == 0
    assert not lock_path(results).exists()  # released at the end
