"""The worker image built and run (docs/deploy.md, section 3): the CPU variant of
``deploy/docker/Dockerfile`` on a Debian base made from the mirror, then a Dask scheduler
and two worker containers segmenting a plate mounted into them, with ``classical`` and
with the U-Net on ONNX Runtime (the image has no torch)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import xarray as xr

from hts.distributed.cluster import ClusterSpec
from hts.models.paths import DEFAULT_SEGMENTER
from hts.results import open_results
from hts.segment import segmenter_model_id

from .conftest import ROOT, assert_same_results, free_port, wait_for

# the module's fixtures (base image, build: minutes) count towards the first test's timeout
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

ENGINE_SCRIPT = ROOT / "deploy" / "docker" / "local-engine.sh"
BASE_SCRIPT = ROOT / "deploy" / "docker" / "debian-base.sh"
#: the docker.io package's client, of the engine's version
DOCKER = "/usr/bin/docker"
BASE, IMAGE = "hts-base:test", "hts-cpu:test"


def _sh(*command: str, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private Docker engine (deploy/docker/local-engine.sh): the environment to reach it."""
    if os.geteuid() != 0:
        pytest.skip("a Docker engine needs root")
    if not (Path("/usr/sbin/dockerd").exists() and shutil.which("mmdebstrap")):
        done = subprocess.run(
            ["bash", str(ENGINE_SCRIPT), "install"], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.skip(f"Docker's Debian packages could not be installed: {done.stderr[-500:]}")
    folder = tmp_path_factory.mktemp("docker")
    env = {**os.environ, "DOCKER_HOST": f"unix://{folder}/docker.sock", "DOCKER_BUILDKIT": "1"}
    t0 = time.monotonic()
    try:
        subprocess.run(["bash", str(ENGINE_SCRIPT), "start", str(folder)], check=True, timeout=120)
        print(f"\ntiming: Docker engine started in {time.monotonic() - t0:.1f} s")
        yield env
    finally:
        # also removes the images, containers and build cache
        subprocess.run(["bash", str(ENGINE_SCRIPT), "stop", str(folder)], timeout=300)


@pytest.fixture(scope="module")
def image(docker_env: dict[str, str]) -> str:
    """The CPU worker image, built from a Debian base made here."""
    t0 = time.monotonic()
    _sh("bash", str(BASE_SCRIPT), BASE, env=docker_env)
    t1 = time.monotonic()
    print(f"\ntiming: base image (mmdebstrap + docker import) {t1 - t0:.0f} s")
    _sh(
        DOCKER, "build", "--network", "host", "-f", "deploy/docker/Dockerfile",
        "--build-arg", f"BASE_IMAGE={BASE}", "--build-arg", "HTS_EXTRAS=onnx,report,flows",
        "--build-arg", "HTS_IMPORTS=hts, flows", "-t", IMAGE, str(ROOT),
        env=docker_env, timeout=1200,
    )  # fmt: skip
    size = int(_sh(DOCKER, "image", "inspect", "-f", "{{.Size}}", IMAGE, env=docker_env))
    print(f"timing: CPU image built in {time.monotonic() - t1:.0f} s ({size / 1e9:.2f} GB)")
    return IMAGE


def _host_run(plate: Path, out: Path, segmenter: str, engine: str | None = None) -> xr.Dataset:
    from hts.distributed.run import run_plate

    run_plate(plate, out, segmenter=segmenter, engine=engine, cluster=ClusterSpec(n_workers=1))
    return open_results(out).load()


def test_scheduler_and_two_worker_containers_segment_a_mounted_plate(
    docker_env: dict[str, str], image: str, plate: Path, tmp_path: Path
) -> None:
    from distributed import Client
    from distributed.versions import VersionMismatchWarning

    from hts.engines.onnx_export import cached_onnx
    from hts.models.paths import model_path

    data = tmp_path / "data"
    shutil.copytree(plate, data / plate.name)
    # The image has no torch: the U-Net's ONNX export is made once where torch is (here) and
    # mounted as the workers' engine cache, as on a cluster's shared cache volume.
    cache = Path(os.environ["HTS_CACHE_DIR"])
    cached_onnx(model_path())
    for folder in (data, cache):
        subprocess.run(["chmod", "-R", "a+rwX", str(folder)], check=True)  # the image's user
    port = free_port()
    scheduler = f"tcp://127.0.0.1:{port}"
    tag = uuid.uuid4().hex[:8]
    names = [f"hts-scheduler-{tag}", f"hts-worker-1-{tag}", f"hts-worker-2-{tag}"]
    run = [DOCKER, "run", "--network", "host"]
    try:
        t0 = time.monotonic()
        _sh(
            *run, "-d", "--name", names[0], image,
            "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
            env=docker_env,
        )  # fmt: skip
        for name in names[1:]:
            _sh(
                *run, "-d", "--name", name, "-e", "HTS_ENGINE_THREADS=1",
                "-v", f"{data}:/data", "-v", f"{cache}:/cache/hts", image,
                "dask", "worker", scheduler, "--name", name, "--nthreads", "1",
                "--host", "127.0.0.1", "--no-dashboard",
                env=docker_env,
            )  # fmt: skip
        wait_for(_port_open(port), 120, "the scheduler container")
        with warnings.catch_warnings():
            # the image's Python is Debian's 3.11.2: the same minor version as this one's
            warnings.simplefilter("ignore", VersionMismatchWarning)
            with Client(scheduler, timeout=60) as client:
                client.wait_for_workers(2, timeout=180)
                workers = client.scheduler_info()["workers"].values()
                assert sorted(w["name"] for w in workers) == sorted(names[1:])
        print(f"\ntiming: scheduler + 2 worker containers ready in {time.monotonic() - t0:.1f} s")

        hts_run = [*run, "--rm", "-v", f"{data}:/data", image, "hts", "-q", "run"]
        t1 = time.monotonic()
        out = _sh(
            *hts_run, f"/data/{plate.name}", "--model", "classical", "--scheduler", scheduler,
            env=docker_env,
        )  # fmt: skip
        print(f"timing: hts run (classical) in a container {time.monotonic() - t1:.1f} s")
        assert "12 ok" in out, out
        out = _sh(
            *hts_run, f"/data/{plate.name}", "--results", "/data/unet.results.zarr",
            "--engine", "onnxruntime", "--scheduler", scheduler,
            env=docker_env,
        )  # fmt: skip
        assert f"model {segmenter_model_id(DEFAULT_SEGMENTER)}: 12 ok" in out, out
        no_torch = "import importlib.util as u; assert u.find_spec('torch') is None"
        _sh(*run, "--rm", image, "python", "-c", no_torch, env=docker_env)
    finally:
        subprocess.run([DOCKER, "rm", "-f", *names], env=docker_env, capture_output=True)

    # the same results as this machine's own run, from the same code and model
    results = data / plate.name.replace(".zarr", ".results.zarr")
    assert_same_results(
        open_results(results).load(),
        _host_run(plate, tmp_path / "classical.zarr", segmenter="classical"),
    )
    assert_same_results(
        open_results(data / "unet.results.zarr").load(),
        _host_run(plate, tmp_path / "unet.zarr", segmenter=DEFAULT_SEGMENTER, engine="onnxruntime"),
    )


def _port_open(port: int) -> object:
    import socket

    def is_open() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    return is_open
