"""The bounded task window on a real cluster of worker processes."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import pytest
from distributed import Client, LocalCluster

from hts.distributed.cluster import ClusterSpec, dask_client, map_bounded, usable_cores
from hts.engines import engine_threads


@contextmanager
def _cluster(n_workers: int) -> Iterator[tuple[LocalCluster, Client]]:
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield cluster, client


def _tasks_on_workers(client: Client) -> int:
    return sum(len(v) for v in client.processing().values())


def test_window_grows_when_workers_join() -> None:
    """Workers that join mid-run (adaptive or batch-queued clusters) are given tasks."""
    with _cluster(1) as (cluster, client):
        done: list[float] = []
        on_workers: list[int] = []

        def on_result(item: float, result: object, error: BaseException | None) -> None:
            assert error is None
            done.append(item)
            if len(done) == 1:  # two more workers join after the first task
                cluster.scale(3)
                client.wait_for_workers(3, timeout=120)
            on_workers.append(_tasks_on_workers(client))

        # With the window fixed at start (2 tasks for 1 thread), never more than 2 run.
        map_bounded(client, time.sleep, [0.4] * 16, on_result=on_result)
    assert len(done) == 16
    assert max(on_workers) >= 3


def test_fixed_window_is_kept() -> None:
    with _cluster(2) as (_, client):
        on_workers: list[int] = []

        def on_result(item: float, result: object, error: BaseException | None) -> None:
            on_workers.append(_tasks_on_workers(client))

        map_bounded(client, time.sleep, [0.2] * 8, on_result=on_result, max_in_flight=1)
    assert len(on_workers) == 8
    assert max(on_workers) <= 1


def test_local_workers_share_the_cores_out_among_their_engines() -> None:
    """Dask's nanny sets OMP_NUM_THREADS=1 in each worker; HTS_ENGINE_THREADS is what
    the engines read first, so inference is not left on one core."""
    spec = ClusterSpec(n_workers=2, threads_per_worker=1)
    with dask_client(spec) as client:
        seen = client.run(engine_threads)
    assert set(seen.values()) == {max(1, usable_cores() // 2)}
    assert spec.engine_threads() == max(1, usable_cores() // 2)


def test_default_local_shape_is_one_worker_with_a_thread_per_core() -> None:
    cores = usable_cores()
    default = ClusterSpec()
    assert (default.n_workers, default.threads_per_worker) == (1, cores)
    assert default.engine_threads() == cores
    assert (ClusterSpec(n_workers=3).n_workers, ClusterSpec(n_workers=3).threads_per_worker) == (
        3,
        1,
    )
    assert ClusterSpec(threads_per_worker=1).n_workers == cores


def listening_addresses() -> set[tuple[str, int]]:
    """``(ip, port)`` of every socket listening in this process and its children."""
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    return {
        (c.laddr.ip, c.laddr.port)
        for p in (me, *me.children(recursive=True))
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


@pytest.mark.parametrize(
    "spec",
    [
        ClusterSpec(n_workers=1, threads_per_worker=1),  # hts run's worker processes
        ClusterSpec(n_workers=1, threads_per_worker=2, processes=False),  # hts ingest's threads
    ],
    ids=["processes", "threads"],
)
def test_local_clusters_listen_on_localhost_only_without_a_dashboard(spec: ClusterSpec) -> None:
    before = listening_addresses()
    with warnings.catch_warnings(record=True) as caught, dask_client(spec) as client:
        warnings.simplefilter("always")
        opened = listening_addresses() - before
        link = client.dashboard_link
    assert opened, "the cluster's scheduler and workers listen somewhere"
    assert {ip for ip, _ in opened} <= {"127.0.0.1", "::1"}, opened
    assert 8787 not in {port for _, port in opened}
    assert not [w for w in caught if "8787" in str(w.message)]  # "port 8787 is already in use"
    assert link  # Dask always names one; served only when asked for


def test_a_dashboard_is_served_on_localhost_when_asked_for() -> None:
    spec = ClusterSpec(n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0")
    with dask_client(spec) as client:
        opened = listening_addresses()
        port = int(client.dashboard_link.split(":")[-1].split("/")[0])
    assert ("127.0.0.1", port) in opened


def test_closing_a_slow_worker_prints_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    """On a busy machine a finished run's worker can take more than 4 s to exit; the nanny
    then kills it with a warning that reached make demo's output."""

    def _exit_slowly() -> None:  # defined here: sent to the worker by value
        import atexit
        import time

        atexit.register(time.sleep, 8.0)  # the worker process lingers after being closed

    caplog.set_level("WARNING", logger="distributed")
    with dask_client(ClusterSpec(n_workers=1, threads_per_worker=1)) as client:
        client.run(_exit_slowly)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert not [m for m in said if "still alive" in m], said
    # the filter is gone with the cluster: other clusters' nannies still warn
    assert not logging.getLogger("distributed.nanny").filters


def _ticks(client: Client) -> set[float]:
    """The event-loop check interval (ms) of the scheduler and of every worker."""

    def tick(dask_scheduler: object = None, dask_worker: object = None) -> float:
        server: Any = dask_scheduler or dask_worker
        return float(server.periodic_callbacks["tick"].callback_time)

    return {client.run_on_scheduler(tick), *client.run(tick).values()}


def test_local_clusters_check_their_event_loops_every_200_ms() -> None:
    """Dask's 20 ms check cost most of an idle local cluster's CPU."""
    with dask_client(ClusterSpec(n_workers=1, threads_per_worker=1)) as client:
        assert _ticks(client) == {200.0}
    assert dask.config.get("distributed.admin.tick.interval") == "20ms"  # set back


def _profiles(client: Client) -> set[bool]:
    """Whether each worker runs Dask's statistical profiler."""

    def profiling(dask_worker: Any) -> bool:
        return "profile-cycle" in dask_worker.periodic_callbacks

    return set(client.run(profiling).values())


def test_local_workers_do_not_profile_without_a_dashboard() -> None:
    """The profiler's one-second profiles grew a worker by tens of MB over a long run."""
    with dask_client(ClusterSpec(n_workers=1, threads_per_worker=1)) as client:
        assert _profiles(client) == {False}
    assert dask.config.get("distributed.worker.profile.enabled") is True  # set back


def test_local_workers_profile_for_a_dashboard() -> None:
    spec = ClusterSpec(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
    )
    with dask_client(spec) as client:
        assert _profiles(client) == {True}


def test_a_configured_event_loop_check_is_kept() -> None:
    with (
        dask.config.set({"distributed.admin.tick.interval": "50ms"}),
        dask_client(ClusterSpec(n_workers=1, threads_per_worker=1, processes=False)) as client,
    ):
        assert _ticks(client) == {50.0}
