"""Which Dask cluster a flow runs on: an existing scheduler, a local one, or SLURM jobs.

A flow takes a :class:`ClusterConfig` parameter (a plain mapping in a deployment's
parameters) and turns it into an :class:`hts.distributed.cluster.ClusterSpec`, the only
thing ``hts`` needs to know. Kubernetes clusters (the Dask operator's ``DaskCluster``) are
started outside the flow and passed by scheduler address.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hts.distributed import (
    ClusterSpec,
    engine_threads_per_worker,
    local_cluster_config,
    local_cluster_options,
    usable_cores,
)
from hts.engines import THREADS_ENV

__all__ = ["ClusterConfig", "load_jobqueue_config", "open_cluster", "slurm_cluster"]

log = logging.getLogger(__name__)


class ClusterConfig(BaseModel):
    """Where the segmentation runs.

    ``scheduler`` wins when set: the address of a running Dask scheduler (a Kubernetes
    ``DaskCluster``, a ``dask scheduler`` on a server, a SLURM cluster started elsewhere).
    Otherwise ``kind`` says what the flow starts for itself.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheduler: str | None = Field(
        default=None, description="address of a running Dask scheduler, e.g. tcp://host:8786"
    )
    kind: Literal["local", "slurm"] = Field(
        default="local", description="cluster the flow starts when no scheduler is given"
    )
    n_workers: int | None = Field(
        default=None, ge=1, description="local worker processes (default: CPU cores)"
    )
    threads_per_worker: int = Field(default=1, ge=1, description="threads per local worker")
    jobs: int = Field(default=1, ge=1, description="SLURM jobs to submit (kind 'slurm')")
    jobqueue_config: str | None = Field(
        default=None,
        description="dask-jobqueue YAML to load (default: the user's Dask configuration)",
    )
    wait_for_workers_s: float = Field(
        default=600.0, ge=0, description="how long to wait for the first worker of a cluster"
    )
    dashboard_address: str | None = Field(
        default=None,
        description="where a local cluster serves Dask's dashboard, e.g. 127.0.0.1:8787 "
        "(default: no dashboard)",
    )

    def describe(self) -> str:
        if self.scheduler:
            return f"Dask scheduler {self.scheduler}"
        if self.kind == "slurm":
            return f"{self.jobs} SLURM job(s)"
        return f"local cluster of {self.n_workers or 'one per core'} worker processes"


def load_jobqueue_config(path: Path | str) -> None:
    """Merge a dask-jobqueue YAML file (``jobqueue: slurm: ...``) into Dask's configuration."""
    import dask.config
    import yaml

    with Path(path).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    dask.config.update(dask.config.config, data, priority="new")


def slurm_cluster(config: ClusterConfig, **overrides: Any) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` from the ``jobqueue.slurm`` configuration (no jobs yet).

    ``overrides`` are passed to ``SLURMCluster`` (e.g. ``queue``, ``account``, ``walltime``).
    """
    from dask_jobqueue import SLURMCluster

    if config.jobqueue_config:
        load_jobqueue_config(config.jobqueue_config)
    return SLURMCluster(**overrides)


def _wait(address: str, timeout_s: float) -> None:
    """Block until the scheduler has a worker: a run planned on an empty cluster would
    size its task window for one thread."""
    from distributed import Client

    with Client(address, timeout=timeout_s) as client:
        client.wait_for_workers(1, timeout=timeout_s)


@contextmanager
def open_cluster(config: ClusterConfig, *, share_local: bool = True) -> Iterator[ClusterSpec]:
    """Yield the :class:`ClusterSpec` to hand to ``hts``; a cluster started here stops on exit.

    With ``share_local`` a local cluster is started once here, so several runs reuse its
    workers (and their loaded models); without it each ``hts`` run starts its own, only when
    it has work.
    """
    import dask.config

    # Each hts run opens a Client, which sets itself as Dask's default scheduler and puts the
    # old setting back when it closes. Runs of several plates in threads close in another
    # order than they opened, which can leave this process pointing at a closed client.
    with dask.config.set({"scheduler": dask.config.get("scheduler", None)}):
        yield from _open(config, share_local=share_local)


def _open(config: ClusterConfig, *, share_local: bool) -> Iterator[ClusterSpec]:
    if config.scheduler:
        _wait(config.scheduler, config.wait_for_workers_s)
        yield ClusterSpec(config.scheduler)
        return
    if config.kind == "local" and not share_local:
        yield ClusterSpec(
            n_workers=config.n_workers,
            threads_per_worker=config.threads_per_worker,
            dashboard_address=config.dashboard_address,
        )
        return
    with ExitStack() as stack:
        if config.kind == "slurm":
            cluster = stack.enter_context(slurm_cluster(config))
            cluster.scale(jobs=config.jobs)
            log.info(
                "submitted %d SLURM job(s); scheduler %s", config.jobs, cluster.scheduler_address
            )
        else:
            from distributed import LocalCluster

            n_workers = config.n_workers or usable_cores()
            # in force while the scheduler and workers start
            with local_cluster_config(dashboard=config.dashboard_address is not None):
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=n_workers,
                        threads_per_worker=config.threads_per_worker,
                        processes=True,
                        # the engines' share of the cores (Dask resets OMP_NUM_THREADS to 1)
                        env={THREADS_ENV: str(engine_threads_per_worker(n_workers))},
                        # on 127.0.0.1 only, free ports, a dashboard only when asked for
                        **local_cluster_options(dashboard_address=config.dashboard_address),
                    )
                )
        _wait(cluster.scheduler_address, config.wait_for_workers_s)
        yield ClusterSpec(cluster.scheduler_address)
