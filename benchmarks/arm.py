"""A simulated arm: what the coordinator, the scheduler and the stores cost at 1k-100k images.

Usage::

    python benchmarks/arm.py [--sizes 1000 10000 100000] [--ingest-max 10000]
                             [--ingest-only] [--files-per-task N]

For each size N (in its own Python process, so peak memory is that size's alone), one
384-well plate of tiny 16-bit images (48 x 64; 1k: 100 wells x 10 scans, 10k: 384 x 26,
100k: 384 wells x 2 fields x 130 scans 12 h apart). Up to ``--ingest-max`` images it is
ingested from a folder of TIFFs (Incucyte names); larger plates are written directly
(`build_plate`: the same arrays, pixel checksums and provenance records, without files or
workers; ingesting 100k files takes about 30 min on 2 cores). Then a trivial segmenter
(``arm-trivial``, a plugin: a fixed disk map; the network is not the point here) segments
it on a local cluster of one worker process with two threads, scheduler in this process;
then the same run again, with nothing to do. Reported per size:

- ingest: wall, and CPU seconds of this process per image (scan, plan, provenance records,
  Dask client and scheduler; header reading, decoding and chunk writes run in the worker);
  for a directly written plate, the seconds its records took;
- planning: from `run_plate`'s start to its plan (results store sync, image slots, blocks);
- tasks submitted (blocks) and the event-loop thread's CPU (Dask scheduler and client
  comms) per image, and its share of the run's wall time;
- coordinator overhead: CPU seconds of this process per image over the whole run
  (planning, submission, result handling, scheduler);
- commit: a worker's `ResultsStore.write_block` of one block, timed again afterwards
  (median of 30), per image;
- results store size on disk, peak RSS of this process and of the worker, over the whole
  measurement and over the run alone (the peak reset just before `run_plate`, so the
  plate's building or ingest does not count; Linux only);
- the no-op re-run: `run_plate` on the finished store (wall).

``--ingest-only`` stops after the ingest (its two columns); ``--files-per-task`` sets
`IngestOptions.files_per_task` (default: sized to the run). The images and stores of each
size are deleted after it is measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: N -> (wells, fields per well, scans 12 h apart) of a 384-well plate.
LAYOUTS = {1000: (100, 1, 10), 10000: (384, 1, 26), 100000: (384, 2, 130)}
IMAGE_SHAPE = (48, 64)


class TrivialSegmenter:
    """A fixed disk of probabilities the shape of the image (no network, no image read)."""

    model_id = "trivial-disk-1"

    def __init__(self) -> None:
        self._maps: dict[tuple[int, ...], np.ndarray] = {}

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        import numpy as np

        shape = image.shape
        if shape not in self._maps:
            yy, xx = np.mgrid[: shape[0], : shape[1]]
            r = np.hypot(yy - shape[0] / 2, xx - shape[1] / 2)
            self._maps[shape] = (1 / (1 + np.exp(r - min(shape) / 4))).astype(np.float32)
        return self._maps[shape]


def trivial(engine: str | None = None) -> TrivialSegmenter:
    """The segmenter factory workers import as ``arm:trivial``."""
    return TrivialSegmenter()


def write_images(folder: Path, n: int) -> int:
    """N tiny TIFFs in Incucyte naming (one plate: wells x fields x scans); returns the count."""
    from datetime import datetime, timedelta

    import numpy as np
    import tifffile

    from hts.testing import incucyte_name
    from hts.wells import WellId

    wells, fields, scans = LAYOUTS[n]
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 3, 2, 9, 30)
    image = np.full(IMAGE_SHAPE, 3000, dtype=np.uint16)
    image[16:32, 24:40] = 1500
    count = 0
    for i in range(wells):
        well = WellId(i // 24, i % 24 + 1)
        for field, scan in itertools.product(range(1, fields + 1), range(scans)):
            when = start + timedelta(hours=12 * scan)
            path = folder / incucyte_name("ARM1", well.name, field, when)
            tifffile.imwrite(
                path, image, resolution=(1e4 / 2.0, 1e4 / 2.0), resolutionunit="CENTIMETER"
            )
            count += 1
    return count


def _install_plugin(site: Path) -> str:
    """Declare ``arm-trivial = arm:trivial`` in the ``hts.segmenters`` entry points, as an
    installed package would (a folder for ``sys.path`` and workers' ``PYTHONPATH``)."""
    info = site / "hts_arm_benchmark-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hts-arm-benchmark\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[hts.segmenters]\narm-trivial = arm:trivial\n")
    shutil.copy(__file__, site / "arm.py")
    return str(site)


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would count from the RSS of
    the process that forked it, which Linux keeps across exec)."""
    import resource

    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> float:
    """Reset this process's peak resident memory to its current RSS (Linux's
    ``clear_refs``); returns the RSS in MB (NaN where the peak cannot be reset)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return float("nan")
    return peak_mb()


def _du_mb(path: Path) -> float:
    """Bytes of the files under ``path``, in MB. Not ``Path.rglob``: before Python 3.12 it
    keeps a set of every path it yielded (about 110 MB of this process's peak for the
    100k plate and its results store)."""
    import os

    return (
        sum(
            os.stat(os.path.join(folder, name)).st_size
            for folder, _, names in os.walk(path)
            for name in names
        )
        / 1e6
    )


def build_plate(plate_path: Path, n: int) -> float:
    """The plate ingest would make of `write_images`, written directly (no files, no
    workers): arrays, one write per field, provenance records as ingest keeps them.
    Returns the seconds spent on the records (``add_image_records``)."""
    import os
    import time
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from hts.io.omezarr import PlateStore, TimepointInfo, image_path, pixels_sha256
    from hts.wells import WellId

    wells, fields, scans = LAYOUTS[n]
    start = datetime(2026, 3, 2, 9, 30)
    times = [start + timedelta(hours=12 * k) for k in range(scans)]
    image = np.full(IMAGE_SHAPE, 3000, dtype=np.uint16)
    image[16:32, 24:40] = 1500
    plate = PlateStore(plate_path, mode="a")
    positions = [WellId(i // 24, i % 24 + 1) for i in range(wells)]
    plate.set_plate(
        name="ARM1", image_shape=IMAGE_SHAPE, dtype=image.dtype, pixel_size_um=2.0,
        timepoints=[
            TimepointInfo(k, f"t{k}", 12.0 * k, t.isoformat()) for k, t in enumerate(times)
        ],
        fields={w: range(1, fields + 1) for w in positions}, well_info={},
    )  # fmt: skip
    stack = np.broadcast_to(image, (scans, *IMAGE_SHAPE))
    digest = pixels_sha256(image)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    spent = 0.0
    first: list[Path] = []
    first_dir = Path()
    for well in positions:
        for field in range(1, fields + 1):
            array_dir = plate_path / image_path(well, field) / "0"
            if not first:
                plate.image_array(well, field)[:] = stack
                first = sorted(p for p in (array_dir / "c").rglob("*") if p.is_file())
                first_dir = array_dir
            else:  # every image is the same: link the first field's chunk files
                for chunk in first:
                    target = array_dir / chunk.relative_to(first_dir)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.link(chunk, target)
            records = {
                k: {
                    "sha256": digest, "pixels_sha256": digest, "source": f"{well}_{field}_{k}.tif",
                    "size": 6400, "mtime_ns": 0, "time_h": 12.0 * k, "acquired_at": t.isoformat(),
                    "source_dtype": "uint16", "ingested_at": now,
                }
                for k, t in enumerate(times)
            }  # fmt: skip
            t0 = time.perf_counter()
            plate.add_image_records(well, field, records)
            spent += time.perf_counter() - t0
    return spent


def measure(
    n: int,
    workdir: Path,
    *,
    ingest_max: int,
    ingest_only: bool = False,
    files_per_task: int | None = None,
) -> dict[str, float]:
    """Everything for one size, in this process."""
    import os
    import resource
    import statistics
    import time

    from distributed import Client, LocalCluster

    from hts.distributed.cluster import ClusterSpec, local_cluster_config
    from hts.distributed.ingest import ingest
    from hts.distributed.run import run_plate
    from hts.engines import THREADS_ENV
    from hts.io import IngestOptions
    from hts.results.store import ResultsStore

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    base = workdir / f"arm_{n}"
    shutil.rmtree(base, ignore_errors=True)
    images, plate, results = base / "images", base / "plate.zarr", base / "plate.results.zarr"
    out: dict[str, float] = {"images": LAYOUTS[n][0] * LAYOUTS[n][1] * LAYOUTS[n][2]}
    real_ingest = n <= ingest_max
    if real_ingest:
        write_images(images, n)
    site = _install_plugin(base / "site")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH")) if p)
    sys.path.insert(0, site)
    with local_cluster_config():  # as hts makes its local clusters
        cluster = LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None,
            env={THREADS_ENV: "2"},
        )  # fmt: skip
    with cluster, Client(cluster) as client:
        spec = ClusterSpec(cluster.scheduler_address)
        c0, t0 = cpu(), time.perf_counter()
        if real_ingest:
            options = IngestOptions(pixel_size_um=2.0, files_per_task=files_per_task)
            ingest(images, plate, options=options, cluster=spec)
            shutil.rmtree(images)
        else:
            out["records_s"] = build_plate(plate, n)
        out["ingest_s"] = time.perf_counter() - t0
        out["ingest_client_cpu_ms_per_image"] = (cpu() - c0) / n * 1e3
        if ingest_only:
            shutil.rmtree(base)
            return out

        planned: list[float] = []
        out["client_rss_before_run_mb"] = reset_peak()
        out["worker_rss_before_run_mb"] = max(client.run(reset_peak).values())
        loop0 = client.run_on_scheduler(time.thread_time)
        c0, t0 = cpu(), time.perf_counter()
        summary = run_plate(
            plate, results, segmenter="arm-trivial", cluster=spec, batch_size=8,
            on_plan=lambda k: planned.append(time.perf_counter()),
        )  # fmt: skip
        wall = time.perf_counter() - t0
        out["client_run_peak_mb"] = peak_mb()
        loop_cpu = client.run_on_scheduler(time.thread_time) - loop0
        out["run_s"] = wall
        out["plan_s"] = planned[0] - t0
        out["tasks"] = summary.n_blocks
        out["ok"] = summary.counts.get("ok", 0)
        out["coordinator_cpu_ms_per_image"] = (cpu() - c0) / n * 1e3
        out["loop_cpu_ms_per_image"] = loop_cpu / n * 1e3
        out["loop_share"] = loop_cpu / wall
        out["worker_peak_mb"] = max(client.run(peak_mb).values())
    t0 = time.perf_counter()
    again = run_plate(plate, results, segmenter="arm-trivial", cluster=ClusterSpec())
    out["noop_rerun_s"] = time.perf_counter() - t0
    assert again.n_blocks == 0, again.line()

    store = ResultsStore(results)
    from hts.results.values import PER_IMAGE

    size = store.wells_per_chunk
    commits = []
    for k in range(30):
        start = (k * size) % store.shape[0] // size * size
        rows = slice(start, min(start + size, store.shape[0]))
        values = store.read_block(rows, k % store.shape[1], list(PER_IMAGE))
        t0 = time.perf_counter()
        store.write_block(rows, k % store.shape[1], values)
        commits.append(time.perf_counter() - t0)
    out["commit_ms_per_image"] = statistics.median(commits) / size * 1e3
    out["results_mb"] = _du_mb(results)
    out["plate_mb"] = _du_mb(plate)
    out["client_peak_mb"] = peak_mb()
    shutil.rmtree(base)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(LAYOUTS))
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--ingest-max", type=int, default=10000,
        help="larger plates are written directly, not ingested from files",
    )  # fmt: skip
    parser.add_argument("--ingest-only", action="store_true", help="stop after the ingest")
    parser.add_argument("--files-per-task", type=int, help="ingest files per task")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's size
    args = parser.parse_args()
    if args.one:
        row = measure(
            args.one,
            args.workdir,
            ingest_max=args.ingest_max,
            ingest_only=args.ingest_only,
            files_per_task=args.files_per_task,
        )
        print(json.dumps(row))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        command = [sys.executable, __file__, "--one", str(n), "--workdir", str(args.workdir)]
        command += ["--ingest-max", str(args.ingest_max)]
        command += ["--ingest-only"] if args.ingest_only else []
        if args.files_per_task:
            command += ["--files-per-task", str(args.files_per_task)]
        proc = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    columns = [
        ("images", "images", "{:.0f}"),
        ("ingest wall (s)", "ingest_s", "{:.1f}"),
        ("ingest client CPU (ms/image)", "ingest_client_cpu_ms_per_image", "{:.2f}"),
        ("planning (s)", "plan_s", "{:.2f}"),
        ("tasks", "tasks", "{:.0f}"),
        ("run wall (s)", "run_s", "{:.1f}"),
        ("coordinator CPU (ms/image)", "coordinator_cpu_ms_per_image", "{:.3f}"),
        ("scheduler loop CPU (ms/image)", "loop_cpu_ms_per_image", "{:.3f}"),
        ("scheduler loop share of wall", "loop_share", "{:.2f}"),
        ("commit (ms/image)", "commit_ms_per_image", "{:.3f}"),
        ("results store (MB)", "results_mb", "{:.1f}"),
        ("client peak RSS (MB)", "client_peak_mb", "{:.0f}"),
        ("worker peak RSS (MB)", "worker_peak_mb", "{:.0f}"),
        ("client RSS before run (MB)", "client_rss_before_run_mb", "{:.0f}"),
        ("client peak in run (MB)", "client_run_peak_mb", "{:.0f}"),
        ("worker RSS before run (MB)", "worker_rss_before_run_mb", "{:.0f}"),
        ("no-op re-run (s)", "noop_rerun_s", "{:.2f}"),
    ]
    if args.ingest_only:
        columns = columns[:3]
    print("| " + " | ".join(c[0] for c in columns) + " |")
    print("|" + "---:|" * len(columns))
    for r in rows:
        print("| " + " | ".join(fmt.format(r[key]) for _, key, fmt in columns) + " |")


if __name__ == "__main__":
    main()
