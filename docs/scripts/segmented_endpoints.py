"""Endpoint recovery through real segmentation: synthesise, ingest, segment, analyse, compare.

    python docs/scripts/segmented_endpoints.py [--wells 60] [--days 15] [--model unet] [--workdir W]

Unlike endpoint_recovery.py (which starts from the simulation's true volumes), every volume
here is measured by the segmenter on rendered images with debris, detachment and imaging
artefacts. Prints the issue's figures: treated spheroids with the right fate (relapse or
control), relapsed ones whose relapse time is within one imaging interval, and the fitted
SCD50 with its 95 % interval against the true SCD50; also the same figures for the
``classical`` baseline when --baseline is given.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import hts
from hts.analysis import compute_endpoints
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.distributed.run import run_plate
from hts.io import IngestOptions
from hts.synth import Scenario, write_synthetic_plate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=60)
    parser.add_argument("--days", type=int, default=15, help="daily scans, day 0 included")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default="unet")
    parser.add_argument("--baseline", action="store_true", help="also run the classical baseline")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results/endpoints"))
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    source = args.workdir / f"synth_{args.wells}x{args.days}_{args.seed}"
    if not (source / "spheroids.csv").exists():
        t0 = time.perf_counter()
        write_synthetic_plate(source, wells=args.wells, days=args.days, seed=args.seed)
        print(f"synthesised in {time.perf_counter() - t0:.0f} s")
    plate = args.workdir / f"plate_{args.wells}x{args.days}_{args.seed}.zarr"
    if not plate.exists():
        ingest(
            source / "images",
            plate,
            options=IngestOptions(plate_map=source / "plate_map.csv"),
            cluster=ClusterSpec(n_workers=1, threads_per_worker=2, processes=False),
        )
    truth = pd.read_csv(source / "spheroids.csv")
    # spheroids.csv names wells as the microscope's files do (B2); the results store pads (B02)
    truth["well"] = [f"{w[0]}{int(w[1:]):02d}" for w in truth["well"]]
    truth = truth.set_index("well")
    true_scd50 = Scenario().true_scd50_gy

    for model in [args.model, *(["classical"] if args.baseline else [])]:
        results = args.workdir / f"results_{model.replace('/', '_')}.zarr"
        t0 = time.perf_counter()
        summary = run_plate(plate, results, segmenter=model, cluster=ClusterSpec(n_workers=1))
        wall = time.perf_counter() - t0
        ep = compute_endpoints(hts.open_results(results))
        wells = [str(w) for w in ep["well"].values]
        fate = pd.Series(np.asarray(ep["fate"].values).astype(str), index=wells)
        relapse_h = pd.Series(np.asarray(ep["relapse_time_h"].values, dtype=float), index=wells)
        t = truth.loc[wells]
        treated = t["fate"] != "untreated"
        relapsed = t["fate"] == "relapse"
        right = (fate[treated] == t["fate"][treated]).mean()
        within = (np.abs(relapse_h[relapsed] - t["relapse_time_h"][relapsed]) <= 24.0).mean()
        lo, hi = float(ep["scd50_lower"]), float(ep["scd50_upper"])
        print(
            f"{model} ({summary.model_id}): {summary.line()} in {wall:.0f} s\n"
            f"  fate right: {right:.3f} of {int(treated.sum())} treated spheroids\n"
            f"  relapse time within 24 h: {within:.3f} of {int(relapsed.sum())} relapsed\n"
            f"  SCD50 {float(ep['scd50']):.2f} Gy (95% CI {lo:.2f}-{hi:.2f}); true {true_scd50:g} Gy: "
            f"{'inside' if lo <= true_scd50 <= hi else 'OUTSIDE'}"
        )
        wrong = fate[treated][fate[treated] != t["fate"][treated]]
        if len(wrong):
            print(
                "  wrong calls:",
                ", ".join(f"{w} ({t.loc[w, 'fate']}->{c})" for w, c in wrong.items()),
            )


if __name__ == "__main__":  # Dask spawns worker processes that re-import this file
    main()
