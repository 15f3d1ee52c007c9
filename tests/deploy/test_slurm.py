"""hts on a real one-node SLURM cluster: GPU jobs through gres, from ``hts run`` and from
the reprocess flow deployed on a real Prefect server (docs/deploy.md, section 4)."""

from __future__ import annotations

import json
import os
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
    Slurm,
    assert_same_results,
    background,
    free_port,
    n_ok,
    site_jobqueue,
    tail,
    wait_for,
)

pytestmark = pytest.mark.cluster

#: seconds per image on the workers: long enough to cancel a job mid-run
DELAY_S = "1.0"


def _job_of_each_worker(address: str) -> dict[str, tuple[str | None, str | None]]:
    """``worker -> (SLURM_JOB_ID, CUDA_VISIBLE_DEVICES)`` as the worker processes see them."""
    from distributed import Client

    def job_and_gpu() -> tuple[str | None, str | None]:
        return os.environ.get("SLURM_JOB_ID"), os.environ.get("CUDA_VISIBLE_DEVICES")

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=180)
        workers = client.scheduler_info()["workers"].values()
        # each job's worker offers one GPU: hts then runs one image batch per GPU at a time
        assert [w["resources"] for w in workers] == [{"GPU": 1}, {"GPU": 1}]
        return dict(client.run(job_and_gpu))


def test_hts_run_through_slurm_gpu_jobs_survives_a_cancelled_job(
    slurm: Slurm, plate: Path, reference: xr.Dataset, tmp_path: Path
) -> None:
    config = site_jobqueue(slurm, tmp_path)
    env = {**slurm.env, "HTS_TEST_DELAY_S": DELAY_S}
    address_file = tmp_path / "scheduler-address"
    launcher_log = tmp_path / "dask_cluster.log"
    t0 = time.monotonic()
    with background(
        [
            str(BIN / "python"), str(ROOT / "deploy" / "dask_cluster.py"),
            "--jobs", "2", "--config", str(config), "--address-file", str(address_file),
        ],
        env=env, cwd=tmp_path, log=launcher_log,
    ) as launcher:  # fmt: skip
        wait_for(lambda: address_file.exists() or launcher.poll() is not None, 300, "address")
        assert launcher.poll() is None, tail(launcher_log)
        address = address_file.read_text().strip()
        seen = _job_of_each_worker(address)
        print(f"\ntiming: 2 SLURM jobs' Dask workers joined in {time.monotonic() - t0:.1f} s")
        jobs = sorted(job for job, _ in seen.values() if job)
        assert jobs == sorted(slurm.jobs("R")) and len(jobs) == 2
        assert sorted(gpu for _, gpu in seen.values() if gpu) == ["0", "1"]  # one GPU each

        results = tmp_path / "PLATE01.results.zarr"
        t1 = time.monotonic()
        run = subprocess.Popen(
            [
                str(BIN / "hts"), "-q", "run", str(plate), "--results", str(results),
                "--model", SLOW, "--scheduler", address,
            ],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: n_ok(results) >= 2, 180, "first results")
            victim = jobs[0]
            slurm.run("scancel", victim)  # its worker dies with its tasks in flight
            out, _ = run.communicate(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
        print(f"timing: hts run through SLURM (one job cancelled) {time.monotonic() - t1:.1f} s")
        assert run.returncode == 0, out
        assert "12 ok" in out, out  # every image once, none failed
        assert_same_results(open_results(results).load(), reference)
        # the launcher keeps two jobs: the cancelled one is replaced
        wait_for(lambda: len(set(slurm.jobs("R")) - {victim}) == 2, 180, "a replacement job")
    # stopping the launcher cancels its jobs
    wait_for(lambda: not slurm.jobs(), 60, "no jobs left")
    assert "submitting another job" in tail(launcher_log, 100_000)


def test_reprocess_deployment_on_a_prefect_server_runs_in_slurm_jobs(
    slurm: Slurm, plate: Path, reference: xr.Dataset, tmp_path: Path
) -> None:
    """As docs/deploy.md says: ``prefect server``, a process work pool and worker, ``prefect
    deploy``, then the reprocess deployment with ``cluster: {kind: slurm}``: the flow run
    submits the GPU jobs, one is cancelled mid-run, the run still completes every image
    once, and the jobs are cancelled when it ends."""
    import shutil

    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copytree(plate, archive / plate.name)
    config = site_jobqueue(slurm, tmp_path)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in slurm.env.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "HTS_TEST_DELAY_S": DELAY_S,
        }
    )
    prefect = str(BIN / "prefect")
    server_log = tmp_path / "server.log"
    t0 = time.monotonic()
    with background(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, log=server_log,
    ) as server:  # fmt: skip
        _wait_for_health(f"{api}/health", server, server_log)
        print(f"\ntiming: prefect server started in {time.monotonic() - t0:.1f} s")
        env.update(
            {
                "PREFECT_API_URL": api,
                "PREFECT_WORKER_QUERY_SECONDS": "2",
                "HTS_REPO": str(ROOT),
                "HTS_ARCHIVE": str(archive),
                "HTS_DASK_SCHEDULER": "tcp://unused:8786",  # the run asks for SLURM instead
            }
        )
        for command in (
            [prefect, "work-pool", "create", "hts", "--type", "process"],
            [prefect, "--no-prompt", "deploy", "--name", "reprocess"],
        ):
            done = subprocess.run(
                command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
        worker_log = tmp_path / "worker.log"
        with background(
            [prefect, "worker", "start", "--pool", "hts", "--type", "process"],
            env=env, cwd=tmp_path, log=worker_log,
        ):  # fmt: skip
            cluster = {"kind": "slurm", "jobs": 2, "jobqueue_config": str(config)}
            t1 = time.monotonic()
            run = subprocess.Popen(
                [
                    prefect, "deployment", "run", "reprocess-archive/reprocess",
                    "--param", f"model={SLOW}", "--param", f"cluster={json.dumps(cluster)}",
                    "--watch", "--watch-timeout", "600",
                ],
                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
            results = archive / "PLATE01.results.zarr"
            try:
                # the flow run's two GPU jobs (submitted one after the other), then its
                # first result
                wait_for(lambda: len(slurm.jobs("R")) == 2, 300, "two running jobs")
                wait_for(lambda: n_ok(results) >= 1, 300, "first results")
                assert run.poll() is None and n_ok(results) < 12
                slurm.run("scancel", slurm.jobs("R")[0])
                out, _ = run.communicate(timeout=600)
            finally:
                if run.poll() is None:
                    run.kill()
            print(f"timing: reprocess deployment run through SLURM {time.monotonic() - t1:.1f} s")
            assert run.returncode == 0, f"{out}\n{tail(worker_log)}"
    assert_same_results(open_results(results).load(), reference)
    # the flow's cluster cancelled its jobs when the run ended
    wait_for(lambda: not slurm.jobs(), 60, "no jobs left")
    job_logs = sorted((tmp_path / "slurm-logs").glob("hts-gpu-worker-*.err"))
    assert len(job_logs) >= 2  # the tasks ran in SLURM jobs' workers


def _wait_for_health(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    def healthy() -> bool:
        assert server.poll() is None, f"prefect server exited:\n{tail(log)}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_for(healthy, 300, f"a Prefect server at {url}")
