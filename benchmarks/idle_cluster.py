"""CPU that an idle local Dask cluster costs the process holding its scheduler.

Usage::

    python benchmarks/idle_cluster.py [--seconds 20] [--repeats 2]

Starts a local cluster of one worker process with two threads, as `hts ingest` and
`hts run` start theirs, waits ``--seconds`` with nothing to do and reports this process's
CPU seconds (user + system) per second of wall time: with Dask's default event-loop check
(every 20 ms) and with hts's (`hts.distributed.cluster.local_cluster_config`, 200 ms),
alternating, ``--repeats`` times each.
"""

from __future__ import annotations

import argparse
import resource
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle_cpu_per_second(seconds: float, *, hts_config: bool) -> float:
    """This process's CPU seconds per wall second while a fresh local cluster idles."""
    from contextlib import nullcontext

    from distributed import Client, LocalCluster

    from hts.distributed.cluster import local_cluster_config

    with local_cluster_config() if hts_config else nullcontext():
        cluster = LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        )
    with cluster, Client(cluster):
        time.sleep(3.0)  # start-up settles
        c0, t0 = _cpu(), time.perf_counter()
        time.sleep(seconds)
        return (_cpu() - c0) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"Dask default (20 ms)": [], "hts (200 ms)": []}
    for _ in range(args.repeats):
        runs["Dask default (20 ms)"].append(idle_cpu_per_second(args.seconds, hts_config=False))
        runs["hts (200 ms)"].append(idle_cpu_per_second(args.seconds, hts_config=True))
    print("| event-loop check | CPU s per s, idle (runs) |")
    print("|---|---|")
    for name, values in runs.items():
        print(f"| {name} | {', '.join(f'{v:.4f}' for v in values)} |")


if __name__ == "__main__":
    main()
