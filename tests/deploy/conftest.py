"""Real engines for the deployment tests: a one-node SLURM cluster, a plate and its
reference results, and helpers to run daemons and commands of a test.

The engines are started by the project's own scripts (``deploy/slurm/local-cluster.sh``,
``deploy/docker/*.sh``) and stopped at the end, also when a test fails. Their packages are
installed where this runs as root (CI does); elsewhere without them the tests skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from hts.distributed.cluster import ClusterSpec
from hts.results import Status, open_results

ROOT = Path(__file__).resolve().parents[2]
SLURM_SCRIPT = ROOT / "deploy" / "slurm" / "local-cluster.sh"
JOBQUEUE_YAML = ROOT / "deploy" / "slurm" / "jobqueue.yaml"
SGE_SCRIPT = ROOT / "deploy" / "sge" / "local-cluster.sh"
SGE_JOBQUEUE_YAML = ROOT / "deploy" / "sge" / "jobqueue.yaml"
BIN = Path(sys.executable).parent
#: the test segmenter plugin (tests/conftest.py): classical, slowed by HTS_TEST_DELAY_S
SLOW = "slow-classical"
#: wells x days of the test plate
N_IMAGES = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], object], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met after {timeout} s")
        time.sleep(0.1)


@contextmanager
def background(
    command: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process (and its children) of this test in its own session, stopped at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            with _suppress_gone():
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with _suppress_gone():
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def _suppress_gone() -> Iterator[None]:
    try:
        yield
    except ProcessLookupError:
        pass


def tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else f"({path} missing)"


# --- SLURM ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slurm:
    """A running one-node cluster: its folder, the environment its clients need, and how
    long it took to start."""

    folder: Path
    env: dict[str, str]
    start_s: float

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout

    def jobs(self, states: str = "PD,R,CG") -> list[str]:
        """Ids of the cluster's jobs in ``states``."""
        return self.run("squeue", "-h", "-t", states, "-o", "%i").split()


def _as_root_or_skip(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (to install its packages and run its daemons)")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slurm]:
    """A one-node SLURM cluster with two GPUs as generic resources, for the session."""
    if shutil.which("slurmctld", path="/usr/sbin:/usr/bin") is None:
        _as_root_or_skip("SLURM")
        done = subprocess.run(
            ["bash", str(SLURM_SCRIPT), "install"], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.skip(f"SLURM's Debian packages could not be installed: {done.stderr[-500:]}")
    _as_root_or_skip("SLURM")
    folder = tmp_path_factory.mktemp("slurm")
    env = {
        **os.environ,
        "SLURM_CONF": str(folder / "slurm.conf"),
        "SLURMCTLD_PORT": str(free_port()),
        "SLURMD_PORT": str(free_port()),
    }
    t0 = time.monotonic()
    try:
        subprocess.run(
            ["bash", str(SLURM_SCRIPT), "start", str(folder), "2"], env=env, check=True, timeout=120
        )
        start_s = time.monotonic() - t0
        print(f"\ntiming: SLURM cluster started in {start_s:.1f} s")
        yield Slurm(folder, env, start_s)
    finally:
        subprocess.run(["bash", str(SLURM_SCRIPT), "stop", str(folder)], env=env, timeout=120)


def site_jobqueue(slurm: Slurm, folder: Path) -> Path:
    """``deploy/slurm/jobqueue.yaml`` as a site adapts it: this node's size (one core and
    2 GiB a job, so both GPUs' jobs fit on 2 cores) and loopback; the GPU request, the
    worker's GPU resource and the prologue are kept."""
    import yaml

    config = yaml.safe_load(JOBQUEUE_YAML.read_text())
    config["jobqueue"]["slurm"].update(
        {
            "cores": 1,
            "memory": "2GiB",
            "walltime": "00:30:00",
            "interface": "lo",
            "local-directory": str(folder / "dask"),
            "log-directory": str(folder / "slurm-logs"),
            "scheduler-options": {"dashboard_address": ":0"},
        }
    )
    path = folder / "jobqueue.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# --- Grid Engine ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GridEngine:
    """A running one-node Grid Engine cell and the environment its clients need."""

    folder: Path
    env: dict[str, str]

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout

    def jobs(self, states: str = "") -> list[str]:
        """Ids of root's jobs (in ``states``, e.g. ``r``; all by default)."""
        lines = self.run("qstat", "-u", "root", *(["-s", states] if states else [])).splitlines()
        return [line.split()[0] for line in lines[2:] if line.strip()]


@pytest.fixture(scope="session")
def grid_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridEngine]:
    """A one-node Grid Engine cell with two GPUs as the consumable ``gpu``, for the session."""
    if not Path("/usr/sbin/sge_qmaster").exists():
        _as_root_or_skip("Grid Engine")
        done = subprocess.run(
            ["bash", str(SGE_SCRIPT), "install"], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.skip(
                f"Grid Engine's Debian packages could not be installed: {done.stderr[-500:]}"
            )
    _as_root_or_skip("Grid Engine")
    folder = tmp_path_factory.mktemp("sge")
    env = {**os.environ, "SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default"}
    try:
        t0 = time.monotonic()
        subprocess.run(
            ["bash", str(SGE_SCRIPT), "start", str(folder), "2"], env=env, check=True, timeout=120
        )
        print(f"\ntiming: Grid Engine cell started in {time.monotonic() - t0:.1f} s")
        yield GridEngine(folder, env)
    finally:
        subprocess.run(["bash", str(SGE_SCRIPT), "stop", str(folder)], env=env, timeout=120)


def site_sge_jobqueue(folder: Path) -> Path:
    """``deploy/sge/jobqueue.yaml`` adapted to this node, as `site_jobqueue` does for SLURM."""
    import yaml

    config = yaml.safe_load(SGE_JOBQUEUE_YAML.read_text())
    sge = config["jobqueue"]["sge"]
    sge.update(
        {
            "cores": 1,
            "memory": "2GiB",
            "walltime": "00:30:00",
            "interface": "lo",
            "local-directory": str(folder / "dask"),
            "log-directory": str(folder / "sge-logs"),
            "scheduler-options": {"dashboard_address": ":0"},
            "job-extra-directives": [
                "-pe smp 1" if d.startswith("-pe ") else d for d in sge["job-extra-directives"]
            ],
        }
    )
    path = folder / "sge-jobqueue.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# --- the plate ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def plate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plate of 4 wells x 3 days, ingested (copy it before writing results beside it)."""
    from hts.distributed.ingest import ingest
    from hts.io import IngestOptions
    from hts.testing import write_disk_plate

    base = tmp_path_factory.mktemp("plate")
    write_disk_plate(base / "images", wells=("B2", "B3", "C2", "C3"), days=(0, 1, 2))
    out = base / "PLATE01.zarr"
    ingest(
        base / "images",
        out,
        options=IngestOptions(plate_map=base / "images_plate_map.csv"),
        cluster=ClusterSpec(n_workers=1, threads_per_worker=2, processes=False),
    )
    return out


@pytest.fixture(scope="session")
def reference(plate: Path, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    """The plate's results from a local run, to compare the clusters' runs with."""
    from hts.distributed.run import run_plate

    out = tmp_path_factory.mktemp("reference") / "reference.zarr"
    before = os.environ.get("HTS_TEST_DELAY_S")
    os.environ["HTS_TEST_DELAY_S"] = "0"
    try:
        run_plate(plate, out, segmenter=SLOW, cluster=ClusterSpec(n_workers=1))
    finally:
        if before is None:
            os.environ.pop("HTS_TEST_DELAY_S")
        else:
            os.environ["HTS_TEST_DELAY_S"] = before
    return open_results(out).load()


def n_ok(results: Path) -> int:
    """Images with a result in a store being written (0 before it exists)."""
    try:
        status = np.asarray(zarr.open_array(store=str(results / "status"), mode="r")[:])
    except Exception:  # noqa: BLE001 - the store may not exist yet, or be half-made
        return 0
    return int((status == Status.OK).sum())


def assert_same_results(ds: xr.Dataset, reference: xr.Dataset) -> None:
    """Every image has a result, and every variable equals the reference run's exactly."""
    assert (ds.status.values == Status.OK).all()
    assert int((ds.status.values == Status.OK).sum()) == N_IMAGES
    for name in reference.data_vars:
        a, b = ds[name].values, reference[name].values
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert (a == b).all(), name
