"""Peak memory of a segmentation run for plates of different sizes (it must stay flat).

Usage::

    python benchmarks/memory.py [--sizes 200 2000] [--model unet-r34-v6] [--engine openvino]

For each size N a synthetic plate of N images (1300 x 1030, 16-bit) is generated and
ingested once (cached in the work folder). Then, in a fresh Python process per size, a
local cluster of one worker process (all cores) segments the plate into a new results
store; the peak resident memory (ru_maxrss) of the worker and of the client process is
read when the run ends. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, os, resource, sys, time
from distributed import Client, LocalCluster
from hts.distributed.cluster import ClusterSpec
from hts.distributed.run import run_plate
from hts.engines import THREADS_ENV

plate, results, model, engine, threads = sys.argv[1:6]
engine = engine or None  # "": automatic

def peak_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

with LocalCluster(n_workers=1, threads_per_worker=int(threads), dashboard_address=None,
                  env={THREADS_ENV: threads}) as cluster:
    with Client(cluster) as client:
        t0 = time.perf_counter()
        summary = run_plate(plate, results, segmenter=model, engine=engine,
                            cluster=ClusterSpec(cluster.scheduler_address))
        wall = time.perf_counter() - t0
        workers = list(client.run(peak_mb).values())
print(json.dumps({"wall_s": wall, "images": sum(summary.counts.values()),
                  "worker_peak_mb": max(workers), "client_peak_mb": peak_mb()}))
"""


def _plate(n: int, workdir: Path) -> Path:
    from hts.distributed.cluster import ClusterSpec
    from hts.distributed.ingest import ingest
    from hts.io import IngestOptions
    from hts.synth import write_synthetic_plate

    plate = workdir / f"memory_{n}.zarr"
    if plate.exists():
        return plate
    days = 10
    t0 = time.perf_counter()
    synth = write_synthetic_plate(
        workdir / f"memory_{n}_src", wells=math.ceil(n / days), days=days, seed=n
    )
    ingest(
        synth.images_dir, plate, options=IngestOptions(plate_map=synth.plate_map_csv),
        cluster=ClusterSpec(n_workers=1, threads_per_worker=2, processes=False),
    )  # fmt: skip
    print(f"plate of {n} images ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return plate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--model", default="unet")
    parser.add_argument("--engine", default=None, help="default: automatic")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--prepare-only", action="store_true", help="only make the plates")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    plates = {n: _plate(n, args.workdir) for n in args.sizes}
    if args.prepare_only:
        return
    rows = []
    for n, plate in plates.items():
        results = args.workdir / f"memory_{n}.results.zarr"
        shutil.rmtree(results, ignore_errors=True)
        argv = [str(plate), str(results), args.model, args.engine or "", str(args.threads)]
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, *argv], check=True, capture_output=True, text=True
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("| images | wall (s) | s/image | worker peak RSS (MB) | client peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['images']} | {r['wall_s']:.0f} | {r['wall_s'] / r['images']:.3f} | "
            f"{r['worker_peak_mb']:.0f} | {r['client_peak_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
