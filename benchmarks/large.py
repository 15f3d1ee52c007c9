"""Large images end to end: seconds per image and per megapixel, and peak worker memory.

Usage::

    python benchmarks/large.py [--shapes 1030x1300 2048x2048 2496x2496] [--images 8]
                               [--engine ENGINE]

For each shape, a synthetic plate of ``--images`` 16-bit images (`hts.synth`, the field of
view kept: pixel size 1.6 um x 1300 / width) is made once in the work folder. Then, in a
fresh process per shape, `run_plate` segments it on a local cluster of one worker process
with all cores (the default cluster), blocks of 2 wells; reported: seconds per image in the
steady state (first finished block to last) and per megapixel, the whole run, and the
worker's and the client's peak resident memory. The bare network (``--engine``, default
the automatic choice, timed once before) on the same inputs, batch 1, gives the ratio.
Time must grow no faster than the pixel count: compare the s/MP column.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stages import make_plate

CHILD = r"""
import json, sys, time
from distributed import Client, LocalCluster
from hts.distributed.cluster import ClusterSpec
from hts.distributed.run import run_plate
from hts.engines import THREADS_ENV

plate, results, weights, engine, threads = sys.argv[1:6]

def peak_mb():
    # VmHWM: this process's own peak. ru_maxrss would start at the RSS of the process that
    # forked it (Linux keeps it across exec), e.g. a parent holding large images.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

with LocalCluster(n_workers=1, threads_per_worker=int(threads), dashboard_address=None,
                  env={THREADS_ENV: threads}) as cluster, Client(cluster) as client:
    done = []
    t0 = time.perf_counter()
    summary = run_plate(plate, results, segmenter=weights, engine=engine, wells_per_chunk=2,
                        cluster=ClusterSpec(cluster.scheduler_address), batch_size=2,
                        progress=lambda n: done.append((time.perf_counter(), n)))
    wall = time.perf_counter() - t0
    worker = max(client.run(peak_mb).values())
n = sum(summary.counts.values())
steady = (done[-1][0] - done[0][0]) / sum(k for _, k in done[1:])
print(json.dumps({"images": n, "ok": summary.counts.get("ok", 0), "wall_s": wall,
                  "steady_s": steady, "worker_peak_mb": worker, "client_peak_mb": peak_mb()}))
"""


def bare(plate: Path, weights: Path, engine: str, repeats: int) -> float:
    """Median seconds per image of the engine alone on the plate's preprocessed images."""
    from hts.engines import get_engine
    from hts.io import PlateStore
    from hts.segment.preprocess import preprocess

    store = PlateStore(plate)
    inputs = [
        preprocess(store.read_image(w, f[0], t))[None]
        for w, f in store.fields.items()
        for t in store.image_records(w, f[0])
    ]
    model = get_engine(engine, weights)
    model.predict(inputs[0])
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for x in inputs:
            model.predict(x)
        runs.append((time.perf_counter() - t0) / len(inputs))
    return statistics.median(runs)


def main() -> None:
    from hts.engines.select import auto_engine_name
    from hts.models.paths import DEFAULT_MODEL, model_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["1030x1300", "2048x2048", "2496x2496"])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--engine", help="default: the automatic choice")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HTS_CACHE_DIR", str(args.workdir / "cache"))
    weights = model_path(args.model)
    engine = args.engine or auto_engine_name(weights)
    threads = str(os.cpu_count() or 1)
    print(
        f"model {weights.name}, engine {engine}, {threads} CPUs, {args.images} images per shape\n"
    )
    print(
        "| image (px) | MP | end-to-end s/image, steady (median) | s/MP | runs | whole run s/image "
        "| bare s/image | bare / end-to-end | worker peak RSS (MB) | client peak RSS (MB) |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for text in args.shapes:
        height, width = (int(v) for v in text.split("x"))
        shape = (height, width)
        plate = make_plate(args.workdir, args.images, shape)
        mp = shape[0] * shape[1] / 1e6
        rows = []
        for _ in range(args.repeats):
            results = args.workdir / "large.results.zarr"
            shutil.rmtree(results, ignore_errors=True)
            argv = [str(plate), str(results), str(weights), engine, threads]
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, *argv], check=True, capture_output=True, text=True
            )
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        bare_s = bare(plate, weights, engine, args.repeats)
        steady = statistics.median(r["steady_s"] for r in rows)
        whole = statistics.median(r["wall_s"] / r["images"] for r in rows)
        runs = ", ".join(f"{r['steady_s']:.3f}" for r in rows)
        print(
            f"| {shape[0]} x {shape[1]} | {mp:.2f} | {steady:.3f} | {steady / mp:.3f} | {runs} | "
            f"{whole:.3f} | {bare_s:.3f} | {bare_s / steady:.2f} | "
            f"{max(r['worker_peak_mb'] for r in rows):.0f} | "
            f"{max(r['client_peak_mb'] for r in rows):.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
