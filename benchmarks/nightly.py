"""Wall time of a nightly run on the demo plate, and how much of it is Prefect's overhead.

Usage::

    python benchmarks/nightly.py [--wells 12] [--days 8] [--repeats 5] [--model classical]

The demo plate (``hts demo`` defaults: 12 wells x 8 days of 1300x1030 16-bit images) is
synthesised once; days 0..6 are ingested and segmented as earlier nights would have. Then,
``--repeats`` times and alternating the order, a fresh copy of that state gets day 7's 12
images and one nightly run, either

- ``plain``: the same steps through hts's API without Prefect (flows.steps: ingest,
  segment, figures, endpoints, HTML report), or
- ``flow``: ``flows.nightly_screen`` against Prefect's ephemeral local API (no server),
  which also records task runs and publishes the artifact.

The flow's overhead is the difference of the medians. The ephemeral API server starts with
the first flow run of a process; that one-off cost is measured by a warm-up run and reported
apart (a Prefect worker's flow runs talk to a running server and do not pay it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def _copy_days(truth_csv: Path, days: set[int], dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    with truth_csv.open() as fh:
        for row in csv.DictReader(fh):
            if int(float(row["day"])) in days:
                shutil.copy2(truth_csv.parent / row["image"], dest)
                n += 1
    return n


def _plain(source: Path, plate: Path, plate_map: Path, model: str) -> dict[str, float]:
    from flows import steps
    from hts.io import IngestOptions
    from hts.segment import SegmenterSpec

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    report = steps.ingest_new_images(source, plate, options=IngestOptions(plate_map=plate_map))
    times["ingest_s"] = time.perf_counter() - t0
    results = steps.default_results_path(plate)
    outcome = steps.segment_plate(plate, results, segmenter=SegmenterSpec.parse(model))
    times["segment_s"] = time.perf_counter() - t0 - sum(times.values())
    steps.summarise_results(results)
    growth = steps.compute_endpoints(results)
    if growth is not None:
        growth.tables()
    steps.write_html_report(
        results, steps.default_report_path(results), endpoints=growth, plate=plate
    )
    times["report_s"] = time.perf_counter() - t0 - sum(times.values())
    assert report.n_new == outcome.n_processed, (report.n_new, outcome.counts)
    times["wall_s"] = time.perf_counter() - t0
    times["n_images"] = outcome.n_processed
    return times


def _flow(source: Path, plate: Path, plate_map: Path, model: str) -> dict[str, float]:
    from flows import nightly_screen

    t0 = time.perf_counter()
    summary = nightly_screen(
        source=str(source), plate=str(plate), plate_map=str(plate_map), model=model
    )
    wall = time.perf_counter() - t0
    assert summary.n_new_images == summary.n_processed
    return {"wall_s": wall, "n_images": summary.n_processed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wells", type=int, default=12)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="classical")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results/nightly"))
    args = parser.parse_args()

    from hts.distributed.ingest import ingest
    from hts.distributed.run import run_plate
    from hts.io import IngestOptions
    from hts.synth import write_synthetic_plate

    work: Path = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    synth = write_synthetic_plate(
        work / "synthetic", wells=args.wells, days=args.days, plate="DEMO01"
    )
    last = args.days - 1
    base = work / "base"
    _copy_days(synth.truth_csv, set(range(last)), base / "incoming")
    ingest(
        base / "incoming",
        base / "DEMO01.zarr",
        options=IngestOptions(plate_map=synth.plate_map_csv),
    )
    run_plate(base / "DEMO01.zarr", base / "DEMO01.results.zarr", segmenter=args.model)

    def fresh(name: str) -> tuple[Path, Path]:
        folder = work / name
        shutil.copytree(base, folder)
        _copy_days(synth.truth_csv, {last}, folder / "incoming")
        return folder / "incoming", folder / "DEMO01.zarr"

    runs: dict[str, list[dict[str, float]]] = {"plain": [], "flow": []}
    t0 = time.perf_counter()
    _flow(*fresh("warmup"), synth.plate_map_csv, args.model)  # starts the ephemeral API
    warmup_s = time.perf_counter() - t0
    for i in range(args.repeats):
        order = ("plain", "flow") if i % 2 == 0 else ("flow", "plain")
        for mode in order:
            source, plate = fresh(f"{mode}{i}")
            run: Any = _plain if mode == "plain" else _flow
            runs[mode].append(run(source, plate, synth.plate_map_csv, args.model))
            print(f"{mode} #{i}: {runs[mode][-1]['wall_s']:.2f} s", file=sys.stderr)
            shutil.rmtree(source.parent)
    plain = statistics.median(r["wall_s"] for r in runs["plain"])
    flow = statistics.median(r["wall_s"] for r in runs["flow"])
    result = {
        "wells": args.wells,
        "days": args.days,
        "model": args.model,
        "cpus": os.cpu_count(),
        "new_images": runs["flow"][0]["n_images"],
        "plain_median_s": plain,
        "flow_median_s": flow,
        "overhead_s": flow - plain,
        "overhead_fraction": (flow - plain) / flow,
        "first_flow_with_ephemeral_api_start_s": warmup_s,
        "plain_steps_median_s": {
            k: statistics.median(r[k] for r in runs["plain"])
            for k in ("ingest_s", "segment_s", "report_s")
        },
        "runs": runs,
    }
    (work / "nightly.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
