"""Cluster parameters of the flows: an existing scheduler, a local cluster, SLURM GPU jobs."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import dask.config
import pytest
from pydantic import ValidationError

from flows.cluster import ClusterConfig, open_cluster, slurm_cluster
from hts.distributed.cluster import usable_cores
from hts.engines import engine_threads

JOBQUEUE_YAML = Path(__file__).resolve().parents[2] / "deploy" / "slurm" / "jobqueue.yaml"


@pytest.fixture
def private_dask_config() -> Iterator[None]:
    """Loading a jobqueue file changes Dask's global configuration: put it back after."""
    import dask_jobqueue  # noqa: F401 - its defaults join the configuration on import

    saved = copy.deepcopy(dask.config.config)
    yield
    dask.config.config.clear()
    dask.config.config.update(saved)


@pytest.mark.usefixtures("private_dask_config")
def test_slurm_job_script_from_our_configuration_asks_for_a_gpu() -> None:
    config = ClusterConfig(kind="slurm", jobs=3, jobqueue_config=str(JOBQUEUE_YAML))
    with slurm_cluster(config) as cluster:
        script = cluster.job_script()
    lines = script.splitlines()
    assert "#SBATCH --gres=gpu:1" in lines
    assert "#SBATCH -p gpu" in lines
    assert "#SBATCH --cpus-per-task=8" in lines
    assert "#SBATCH -t 04:00:00" in lines
    (worker,) = [line for line in lines if "distributed.cli.dask_worker" in line]
    assert "--resources GPU=1" in worker  # hts runs one task per GPU at a time
    assert "--nthreads 8" in worker
    assert any(line.startswith("export HTS_CACHE_DIR=") for line in lines)


@pytest.mark.usefixtures("private_dask_config")
def test_slurm_settings_can_be_overridden_per_site() -> None:
    config = ClusterConfig(kind="slurm", jobqueue_config=str(JOBQUEUE_YAML))
    with slurm_cluster(config, queue="a100", account="radbio", walltime="12:00:00") as cluster:
        lines = cluster.job_script().splitlines()
    assert {"#SBATCH -p a100", "#SBATCH -A radbio", "#SBATCH -t 12:00:00"} <= set(lines)
    assert "#SBATCH --gres=gpu:1" in lines


def test_a_scheduler_address_is_passed_on(scheduler: str) -> None:
    with open_cluster(ClusterConfig(scheduler=scheduler)) as spec:
        assert spec.scheduler == scheduler


def test_local_cluster_is_shared_or_left_to_each_run() -> None:
    with open_cluster(ClusterConfig(n_workers=1), share_local=False) as spec:
        assert spec.scheduler is None and spec.n_workers == 1 and spec.processes
    with open_cluster(ClusterConfig(n_workers=1)) as spec:
        from distributed import Client

        assert spec.scheduler is not None
        with Client(spec.scheduler) as client:
            assert len(client.scheduler_info()["workers"]) == 1
            # the one worker's engine gets every usable core, not the nanny's OMP_NUM_THREADS=1
            assert set(client.run(engine_threads).values()) == {usable_cores()}


def test_an_unreachable_scheduler_fails_fast() -> None:
    config = ClusterConfig(scheduler="tcp://127.0.0.1:9", wait_for_workers_s=2)
    with pytest.raises(OSError), open_cluster(config):
        pass


def test_parameters_are_checked() -> None:
    assert ClusterConfig.model_validate({"scheduler": "tcp://h:8786"}).scheduler == "tcp://h:8786"
    with pytest.raises(ValidationError):
        ClusterConfig.model_validate({"schedular": "tcp://h:8786"})  # a typo is not ignored
    with pytest.raises(ValidationError):
        ClusterConfig(kind="kubernetes")  # type: ignore[arg-type]


def _listening() -> set[tuple[str, int]]:
    """``(ip, port)`` of every socket listening in this process and its children."""
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    return {
        (c.laddr.ip, c.laddr.port)
        for p in (me, *me.children(recursive=True))
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


def test_a_local_cluster_of_a_flow_listens_on_localhost_only() -> None:
    from distributed import Client

    before = _listening()
    with open_cluster(ClusterConfig(n_workers=1), share_local=True) as spec:
        assert spec.scheduler is not None and spec.scheduler.startswith("tcp://127.0.0.1:")
        opened = _listening() - before
        with Client(spec.scheduler) as client:
            assert len(client.scheduler_info()["workers"]) == 1
    assert opened and {ip for ip, _ in opened} <= {"127.0.0.1", "::1"}, opened
