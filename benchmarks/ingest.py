"""Ingest throughput and peak memory for synthetic 1300x1030 16-bit plates.

Usage::

    python benchmarks/ingest.py [--sizes 100 1000] [--repeats 3] [--workdir benchmarks/results]

For each size N, a synthetic plate of N images is generated once (cached in the work
folder), then ingested ``--repeats`` times into a fresh plate, each in its own Python
process so that its peak resident memory (ru_maxrss) is the ingest's alone. Prints a
Markdown table: median wall time, images/s, MB/s of source TIFF, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.io import IngestOptions
source, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
cluster = ClusterSpec(n_workers=1, threads_per_worker=threads, processes=False)
report = ingest(source, out, options=IngestOptions(), cluster=cluster)
wall = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": peak_mb, "n_new": report.n_new, "problems": len(report.problems)}))
"""


def _plate_for(n: int, workdir: Path) -> Path:
    from hts.synth import write_synthetic_plate

    days = 10
    wells = math.ceil(n / days)
    folder = workdir / f"synth_{n}"
    images = folder / "images"
    if images.exists() and len(list(images.glob("*.tif"))) == wells * days:
        return images
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    write_synthetic_plate(folder, wells=wells, days=days, seed=n)  # days = number of scans
    print(f"generated {wells * days} images in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        images = _plate_for(n, args.workdir)
        files = sorted(images.glob("*.tif"))
        source_mb = sum(f.stat().st_size for f in files) / 1e6
        runs = []
        for _ in range(args.repeats):
            out = args.workdir / f"plate_{n}.zarr"
            shutil.rmtree(out, ignore_errors=True)
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(images), str(out), str(args.threads)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        plate_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
        wall = statistics.median(r["wall_s"] for r in runs)
        rows.append(
            {
                "images": len(files),
                "wall_s": wall,
                "images_per_s": len(files) / wall,
                "mb_per_s": source_mb / wall,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "compression": source_mb / plate_mb,
                "runs": [round(r["wall_s"], 2) for r in runs],
            }
        )
    print(
        "| images | median wall (s) | images/s | MB/s (source) | peak RSS (MB) | size ratio TIFF/Zarr | runs (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['images']} | {r['wall_s']:.1f} | {r['images_per_s']:.0f} | {r['mb_per_s']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['compression']:.2f} | {r['runs']} |"
        )


if __name__ == "__main__":
    main()
