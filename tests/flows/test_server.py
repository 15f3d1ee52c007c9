"""The deployments of prefect.yaml on a real Prefect server with a process worker (slow).

As docs/deploy.md says to do it: start ``prefect server``, create the work pool, ``prefect
deploy --all``, start a worker; then trigger both deployments and see them complete.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hts.results import Status, open_results
from hts.synth import SyntheticPlate

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
OTHER_MODEL = "slow-classical"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"no Prefect server at {url} after {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def _background(
    command: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process (and its children) of this test, stopped at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.slow
def test_deployments_run_on_a_real_server_and_worker(
    tmp_path: Path, synthetic: SyntheticPlate, images_of_days: Any, scheduler: str
) -> None:
    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    images_of_days(synthetic, (0, 1, 2), tmp_path / "incoming")
    plate = tmp_path / "archive" / "SYN01.zarr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # the server's database goes here
    with _background(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, log=tmp_path / "server.log",
    ) as server:  # fmt: skip
        _wait_for_health(f"{api}/health", server, tmp_path / "server.log", timeout=240)
        client_env = {
            **env,
            "PREFECT_API_URL": api,
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "HTS_REPO": str(ROOT),
            "HTS_INCOMING": str(tmp_path / "incoming"),
            "HTS_PLATE": str(plate),
            "HTS_PLATE_MAP": str(synthetic.plate_map_csv),
            "HTS_ARCHIVE": str(plate.parent),
            "HTS_DASK_SCHEDULER": scheduler,
        }
        for command in (
            [PREFECT, "work-pool", "create", "hts", "--type", "process"],
            [PREFECT, "--no-prompt", "deploy", "--all"],
        ):
            done = subprocess.run(
                command, env=client_env, cwd=ROOT, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stdout + done.stderr
        worker_log = tmp_path / "worker.log"
        with (
            _background(
                [PREFECT, "worker", "start", "--pool", "hts", "--type", "process"],
                env=client_env,
                cwd=tmp_path,
                log=worker_log,
            ),  # fmt: skip
            temporary_settings(updates={PREFECT_API_URL: api}),
        ):
            with get_client(sync_client=True) as client:
                nightly = client.read_deployment_by_name("nightly-screen/nightly")
            assert [s.schedule.cron for s in nightly.schedules] == ["0 2 * * *"]
            assert nightly.parameters["plate"] == str(plate)

            run = run_deployment(
                "nightly-screen/nightly", parameters={"model": "classical"}, timeout=600
            )
            assert run.state.is_completed(), f"{run.state}\n{worker_log.read_text()[-4000:]}"
            ds = open_results(plate.with_name("SYN01.results.zarr"))
            assert (ds.status.values == Status.OK).all() and ds.sizes["timepoint"] == 3
            assert set(ds.model_id.values.ravel().tolist()) == {"classical-1"}

            run = run_deployment(
                "reprocess-archive/reprocess", parameters={"model": OTHER_MODEL}, timeout=600
            )
            assert run.state.is_completed(), f"{run.state}\n{worker_log.read_text()[-4000:]}"
            ds = open_results(plate.with_name("SYN01.results.zarr"))
            assert set(ds.model_id.values.ravel().tolist()) == {"slow-classical-1"}
