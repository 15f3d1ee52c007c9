"""hts on a real one-node Grid Engine cell through dask-jobqueue's ``SGECluster``: GPU jobs
through the consumable ``gpu`` (docs/deploy.md, section 3)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import xarray as xr

from hts.results import open_results

from .conftest import (
    BIN,
    ROOT,
    SLOW,
    GridEngine,
    assert_same_results,
    background,
    n_ok,
    site_sge_jobqueue,
    tail,
    wait_for,
)

pytestmark = pytest.mark.cluster


def test_hts_run_through_grid_engine_gpu_jobs_survives_a_deleted_job(
    grid_engine: GridEngine, plate: Path, reference: xr.Dataset, tmp_path: Path
) -> None:
    from distributed import Client

    config = site_sge_jobqueue(tmp_path)
    env = {**grid_engine.env, "HTS_TEST_DELAY_S": "0.5"}
    address_file = tmp_path / "scheduler-address"
    launcher_log = tmp_path / "dask_cluster.log"
    t0 = time.monotonic()
    with background(
        [
            str(BIN / "python"), str(ROOT / "deploy" / "dask_cluster.py"), "--kind", "sge",
            "--jobs", "2", "--config", str(config), "--address-file", str(address_file),
        ],
        env=env, cwd=tmp_path, log=launcher_log,
    ) as launcher:  # fmt: skip
        wait_for(lambda: address_file.exists() or launcher.poll() is not None, 300, "address")
        assert launcher.poll() is None, tail(launcher_log)
        address = address_file.read_text().strip()
        with Client(address, timeout=60) as client:
            try:
                client.wait_for_workers(2, timeout=180)
            except TimeoutError as error:  # say why a job waits
                waiting = grid_engine.jobs("p")
                why = grid_engine.run("qstat", "-j", waiting[0]) if waiting else ""
                raise AssertionError(f"{grid_engine.run('qstat', '-f')}\n{why}") from error
            workers = client.scheduler_info()["workers"].values()
            assert [w["resources"] for w in workers] == [{"GPU": 1}, {"GPU": 1}]
        print(f"\ntiming: 2 Grid Engine jobs' Dask workers joined in {time.monotonic() - t0:.1f} s")
        jobs = grid_engine.jobs("r")
        assert len(jobs) == 2, jobs
        # both GPUs of the node are taken by the two jobs
        assert "hc:gpu=0" in grid_engine.run("qhost", "-F", "gpu", "-h", "localhost")

        results = tmp_path / "PLATE01.results.zarr"
        run = subprocess.Popen(
            [
                str(BIN / "hts"), "-q", "run", str(plate), "--results", str(results),
                "--model", SLOW, "--scheduler", address,
            ],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: n_ok(results) >= 2, 180, "first results")
            grid_engine.run("qdel", jobs[0])  # its worker dies with its tasks in flight
            out, _ = run.communicate(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 0, out
        assert "12 ok" in out, out
        assert_same_results(open_results(results).load(), reference)
    # stopping the launcher deletes its jobs
    wait_for(lambda: not grid_engine.jobs(), 60, "no jobs left")
