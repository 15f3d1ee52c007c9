"""The bounded task window on a real cluster of worker processes."""

from __future__ import annotations

import time

from distributed import Client, LocalCluster

from hts.distributed.cluster import map_bounded


def test_window_grows_when_workers_join() -> None:
    """Workers that join mid-run (adaptive or batch-queued clusters) are given tasks."""
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        done: list[float] = []
        on_workers: list[int] = []

        def on_result(item: float, result: object, error: BaseException | None) -> None:
            assert error is None
            done.append(item)
            if len(done) == 1:  # two more workers join after the first task
                cluster.scale(3)
                client.wait_for_workers(3, timeout=120)
            on_workers.append(sum(len(v) for v in client.processing().values()))

        # With the window fixed at start (2 tasks for 1 thread), never more than 2 run.
        map_bounded(client, time.sleep, [0.4] * 16, on_result=on_result)
    assert len(done) == 16
    assert max(on_workers) >= 3


def test_fixed_window_is_kept() -> None:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        on_workers: list[int] = []

        def on_result(item: float, result: object, error: BaseException | None) -> None:
            on_workers.append(sum(len(v) for v in client.processing().values()))

        map_bounded(client, time.sleep, [0.2] * 8, on_result=on_result, max_in_flight=1)
    assert len(on_workers) == 8
    assert max(on_workers) <= 1
