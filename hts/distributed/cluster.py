"""Dask clusters: an embedded local one by default, or an existing scheduler by address."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any, TypeVar

from hts.engines.settings import THREADS_ENV

__all__ = [
    "ClusterSpec",
    "dask_client",
    "engine_threads_per_worker",
    "local_cluster_config",
    "local_cluster_options",
    "map_bounded",
    "usable_cores",
]

log = logging.getLogger(__name__)

#: How often :func:`map_bounded` asks the scheduler how many worker threads there are.
_NTHREADS_EVERY_S = 2.0

T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a SLURM allocation)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def engine_threads_per_worker(n_workers: int) -> int:
    """The usable cores shared out among ``n_workers`` local worker processes' engines."""
    return max(1, usable_cores() // n_workers)


class ClusterSpec:
    """How to get Dask workers: an address, or a local cluster of this shape.

    Without a shape: one worker process with a thread per usable core, whose engine uses
    every core while its other threads read and post-process (the fastest local shape
    measured for the default CPU engine, docs/benchmarks.md). With ``n_workers`` only:
    that many single-threaded workers; with ``threads_per_worker`` only: as many workers
    as fit the cores.
    """

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        processes: bool = True,
        memory_limit: str | None = "auto",
        resources: dict[str, float] | None = None,
        dashboard_address: str | None = None,
    ) -> None:
        self.scheduler = scheduler
        cores = usable_cores()
        if n_workers is None and threads_per_worker is None:
            n_workers, threads_per_worker = 1, cores
        self.threads_per_worker = threads_per_worker or 1
        self.n_workers = n_workers or max(1, cores // self.threads_per_worker)
        self.processes = processes
        self.memory_limit = memory_limit
        #: Abstract resources each local worker advertises, e.g. ``{"GPU": 1}``.
        self.resources = resources
        #: Where a local cluster serves Dask's dashboard, e.g. ``127.0.0.1:8787``; None: none.
        self.dashboard_address = dashboard_address

    def engine_threads(self) -> int:
        """CPU threads each local worker's engine gets: the usable cores shared out."""
        return engine_threads_per_worker(self.n_workers)

    def __repr__(self) -> str:
        if self.scheduler:
            return f"ClusterSpec(scheduler={self.scheduler!r})"
        kind = "processes" if self.processes else "threads"
        return f"ClusterSpec(local {self.n_workers} {kind} x {self.threads_per_worker} threads)"


def local_cluster_options(
    *, processes: bool = True, dashboard_address: str | None = None
) -> dict[str, Any]:
    """``LocalCluster`` options that keep a local cluster on this machine.

    Scheduler, workers and their HTTP endpoints listen on 127.0.0.1 only (Dask's default
    for the HTTP servers of an in-process cluster is every interface), on free ports, and
    Dask's dashboard is served only when ``dashboard_address`` asks for it (e.g.
    ``127.0.0.1:8787``; ``:8787`` would serve the network). An in-process cluster
    (``processes=False``) talks over memory, not sockets.
    """
    return {
        **({"host": "127.0.0.1"} if processes else {}),
        "dashboard_address": dashboard_address or "127.0.0.1:0",
        "worker_dashboard_address": "127.0.0.1:0",
        "scheduler_kwargs": {"dashboard": dashboard_address is not None},
    }


#: How often a local cluster's scheduler and workers check that their event loop answers.
#: Dask's default, 20 ms, cost the process that holds the scheduler (the client's, for a
#: local cluster) about 0.03 s of CPU per second, idle or not: most of an idle cluster's
#: CPU (docs/benchmarks.md). A blocked loop is still reported, 0.2 s later at most.
LOCAL_TICK_INTERVAL = "200ms"
_DASK_DEFAULT_TICK = "20ms"


def local_cluster_config(*, dashboard: bool = False) -> AbstractContextManager[Any]:
    """A context in which a local cluster is made; worker processes get the configuration
    in force when they start.

    - The event-loop check every `LOCAL_TICK_INTERVAL`, unless it was configured otherwise
      (kept then).
    - Without a ``dashboard``, workers do not run Dask's statistical profiler: it samples
      every thread's stack every 10 ms for the dashboard's profile pages, and a worker
      keeps the last 1,000 one-second profiles, which grew a worker by 40 MB over a 5-minute
      run of small images (docs/benchmarks.md). With a dashboard, or where Dask's
      configuration turns it off already, nothing about it changes.
    """
    import dask

    settings: dict[str, Any] = {}
    if dask.config.get("distributed.admin.tick.interval") == _DASK_DEFAULT_TICK:
        settings["distributed.admin.tick.interval"] = LOCAL_TICK_INTERVAL
    if not dashboard:
        settings["distributed.worker.profile.enabled"] = False
    return dask.config.set(settings) if settings else nullcontext()


@contextmanager
def dask_client(spec: ClusterSpec | None = None) -> Iterator[Any]:
    """Yield a ``distributed.Client``: connected to ``spec.scheduler`` or to a new local cluster.

    A local cluster is closed on exit; an external scheduler is left running.
    """
    from distributed import Client, LocalCluster

    spec = spec or ClusterSpec()
    if spec.scheduler:
        log.info("connecting to Dask scheduler %s", spec.scheduler)
        # not Dask's default client: runs of several plates in threads close in any order
        with Client(spec.scheduler, set_as_default=False) as client:
            yield client
        return
    log.info("starting %r", spec)
    # Worker processes share this machine's cores out among their engines (Dask's nanny
    # sets OMP_NUM_THREADS=1 in each, which would leave inference on one core).
    worker_env = {"env": {THREADS_ENV: str(spec.engine_threads())}} if spec.processes else {}
    nanny_log = logging.getLogger("distributed.nanny")
    quiet = _SlowExitFilter()
    with ExitStack() as stack:
        stack.callback(nanny_log.removeFilter, quiet)  # runs last, after the cluster closed
        # in force while the scheduler and workers start
        with local_cluster_config(dashboard=spec.dashboard_address is not None):
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=spec.n_workers,
                    threads_per_worker=spec.threads_per_worker,
                    processes=spec.processes,
                    memory_limit=spec.memory_limit,
                    resources=spec.resources,
                    **local_cluster_options(
                        processes=spec.processes, dashboard_address=spec.dashboard_address
                    ),
                    **worker_env,
                )
            )
        client = stack.enter_context(Client(cluster, set_as_default=False))
        if spec.dashboard_address:
            log.info("Dask dashboard: %s", cluster.dashboard_link)
        yield client
        nanny_log.addFilter(quiet)  # from here on the cluster closes


class _SlowExitFilter(logging.Filter):
    """Drops the nanny's warning that a worker still alive 4 s after being asked to close
    is killed: on a busy machine that happens when a finished run closes its own local
    cluster, whose results are all written (a warning that alarms without saying anything)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Worker process still alive after")


def map_bounded(
    client: Any,
    func: Callable[..., R],
    items: Sequence[T] | Iterable[T],
    *,
    on_result: Callable[[T, R | None, BaseException | None], None],
    max_in_flight: int | None = None,
    retries: int = 2,
    resources: dict[str, float] | None = None,
    **kwargs: Any,
) -> None:
    """Run ``func(item, **kwargs)`` on the cluster with a bounded number of tasks in flight.

    ``on_result(item, result, error)`` runs in the calling process as each task ends, so
    results can be committed while later tasks still run and memory stays flat however
    many items there are. A task that still fails after ``retries`` reports its error
    instead of stopping the run.

    Without ``max_in_flight`` the window is two tasks per worker thread, counted again as
    tasks end (at most every ``_NTHREADS_EVERY_S`` seconds: asking the scheduler is a round
    trip): workers that join later (an adaptive or batch-queued cluster) get work, and a
    cluster that starts with no workers still gets its first two tasks.
    """
    from distributed import as_completed

    n_threads, asked_at = 0, -float("inf")

    def window() -> int:
        nonlocal n_threads, asked_at
        if max_in_flight is not None:
            return max_in_flight
        now = time.monotonic()
        if now - asked_at >= _NTHREADS_EVERY_S:  # a round trip to the scheduler
            n_threads, asked_at = sum(client.nthreads().values()), now
        return 2 * max(1, n_threads)

    iterator = iter(items)
    pending: dict[Any, T] = {}

    def submit_next() -> Any | None:
        try:
            item = next(iterator)
        except StopIteration:
            return None
        future = client.submit(
            func, item, pure=False, retries=retries, resources=resources, **kwargs
        )
        pending[future] = item
        return future

    futures = [f for f in (submit_next() for _ in range(window())) if f is not None]
    queue = as_completed(futures, loop=client.loop)  # this client, not Dask's default
    for future in queue:
        item = pending.pop(future)
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - a task's failure is reported per item
            on_result(item, None, exc)
        else:
            on_result(item, result, None)
        finally:
            future.release()
        for _ in range(window() - len(pending)):
            nxt = submit_next()
            if nxt is None:
                break
            queue.add(nxt)
