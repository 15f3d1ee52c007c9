"""Dask workers as batch jobs (SLURM or Grid Engine) for ``hts run --scheduler``: start
them, write the scheduler's address, keep them until stopped.

    python deploy/dask_cluster.py --jobs 4 --config deploy/slurm/jobqueue.yaml &
    hts run PLATE.zarr --scheduler "$(cat scheduler-address)"   # once the file exists
    python deploy/dask_cluster.py --kind sge --jobs 4 --config deploy/sge/jobqueue.yaml &

The scheduler runs in this process; each job is one worker that advertises the ``GPU``
resource (see the ``jobqueue.yaml`` files). A job that ends (``scancel``/``qdel``, its
walltime) is replaced. On SIGTERM or Ctrl-C the jobs are cancelled and the scheduler stops.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flows.cluster import ClusterConfig, load_jobqueue_config, slurm_cluster

log = logging.getLogger("hts.deploy.slurm")


def _sge_cluster(config: Path | None) -> Any:
    """A ``dask_jobqueue.SGECluster`` from the ``jobqueue.sge`` configuration (no jobs yet)."""
    from dask_jobqueue import SGECluster

    if config:
        load_jobqueue_config(config)
    return SGECluster()


def _replace_lost_jobs(cluster: Any, seen: set[str], jobs: int) -> set[str]:
    """Submit a new job for each whose worker joined and then left (the job ended);
    return the names of the workers seen now."""
    alive = {w["name"] for w in cluster.scheduler_info.get("workers", {}).values()}
    lost = [name for name in cluster.worker_spec if name in seen and name not in alive]
    for name in lost:
        log.warning("worker %s left (its job ended): submitting another job", name)
        del cluster.worker_spec[name]
        seen.discard(name)
        # A new name: SpecCluster would hand the freed name out again, and a spec whose
        # name is still among its workers (the ended job) starts nothing.
        k = 1
        while f"{name}-r{k}" in cluster.worker_spec or f"{name}-r{k}" in cluster.workers:
            k += 1
        cluster.worker_spec[f"{name}-r{k}"] = dict(cluster.new_spec)
    if lost:
        cluster.scale(jobs=jobs)  # closes the ended jobs' records, submits the new ones
    return alive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=("slurm", "sge"), default="slurm", help="batch system")
    parser.add_argument("--jobs", type=int, default=1, help="jobs (Dask workers) to keep")
    parser.add_argument(
        "--config", type=Path, help="dask-jobqueue YAML (default: Dask's configuration)"
    )
    parser.add_argument(
        "--address-file",
        type=Path,
        default=Path("scheduler-address"),
        help="written with the scheduler's address once the first worker has joined",
    )
    parser.add_argument("--wait-s", type=float, default=600.0, help="for the first worker")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    t0 = time.monotonic()
    if args.kind == "sge":
        cluster_cm = _sge_cluster(args.config)
    else:
        cluster_cm = slurm_cluster(
            ClusterConfig(
                kind="slurm",
                jobs=args.jobs,
                jobqueue_config=str(args.config) if args.config else None,
            )
        )
    with cluster_cm as cluster:
        cluster.scale(jobs=args.jobs)
        from distributed import Client

        with Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=args.wait_s)
        print(
            f"{cluster.scheduler_address}: first worker after {time.monotonic() - t0:.1f} s",
            file=sys.stderr,
        )
        args.address_file.write_text(cluster.scheduler_address + "\n")
        print(cluster.scheduler_address, flush=True)
        seen: set[str] = set()
        while not stop.wait(2.0):
            seen |= _replace_lost_jobs(cluster, seen, args.jobs)
        args.address_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
