"""Endpoint recovery on large synthetic plates, from the simulation's truth (no images).

    python docs/scripts/endpoint_recovery.py [--plates 4] [--wells 300] [--days 31] [--seeds 1]

Each plate's spheroids are simulated by hts.synth (fates, relapse times, true SCD50); the
measured volumes are the true ones with noise, and a fraction of images is QC-flagged with
a grossly wrong volume. The plates are pooled, compute_endpoints runs on them with its
default parameters, and the figures of the issue's "done" criteria are printed: fraction
of treated spheroids with the right fate (>= 0.95), fraction of relapsed spheroids with
the relapse time within one imaging interval (>= 0.90), and whether the true SCD50 lies in
the 95 % interval. With --seeds N it repeats on N independent seeds and also prints how
often the interval covered the truth (a 95 % interval should miss about 1 time in 20).
"""

import argparse
import time

import numpy as np
import xarray as xr

from hts.analysis import compute_endpoints
from hts.synth import Scenario, imaging_times_h, layout_wells, simulate_plate
from hts.synth.results import endpoint_recovery, results_from_histories

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--plates", type=int, default=4, help="plates pooled per seed")
parser.add_argument("--wells", type=int, default=300, help="wells per plate (<= 308)")
parser.add_argument("--days", type=int, default=31, help="daily scans, day 0 included")
parser.add_argument("--interval-h", type=float, default=24.0)
parser.add_argument("--flag-fraction", type=float, default=0.05)
parser.add_argument("--missing-fraction", type=float, default=0.02)
parser.add_argument("--diameter-noise", type=float, default=0.02)
parser.add_argument("--seeds", type=int, default=1, help="independent repetitions")
parser.add_argument("--seed", type=int, default=0, help="first seed")
args = parser.parse_args()

scenario = Scenario()
times = imaging_times_h(args.days, interval_h=args.interval_h)
rows = []
for seed in range(args.seed, args.seed + args.seeds):
    began = time.perf_counter()
    histories, parts = [], []
    for p in range(args.plates):
        plate = f"SYN{p + 1:02d}"
        hs = simulate_plate(
            layout_wells(args.wells), times_h=times, scenario=scenario, seed=1000 * seed + p
        )
        ds = results_from_histories(
            hs,
            plate=plate,
            diameter_noise=args.diameter_noise,
            flag_fraction=args.flag_fraction,
            missing_fraction=args.missing_fraction,
            seed=1000 * seed + p,
        )
        parts.append(ds.assign_coords(well=[f"{plate}:{w}" for w in ds.well.values]))
        histories.extend(hs)
    results = xr.concat(parts, dim="well")
    endpoints = compute_endpoints(results)
    fig = endpoint_recovery(
        histories, endpoints, true_scd50=scenario.true_scd50_gy, interval_h=args.interval_h
    )
    rows.append(fig)
    print(
        f"seed {seed}: {len(histories)} spheroids ({fig['n_treated']:.0f} treated, {fig['n_relapsed']:.0f} relapsed), "
        f"{args.days} scans every {args.interval_h:g} h, {args.flag_fraction:.0%} flagged | "
        f"fate right {fig['fate_correct']:.4f} | relapse time within one interval {fig['time_within_interval']:.4f} | "
        f"SCD50 {fig['scd50']:.3f} Gy, 95% CI {fig['scd50_lower']:.3f}-{fig['scd50_upper']:.3f} "
        f"(true {scenario.true_scd50_gy:g}: {'inside' if fig['scd50_covered'] else 'OUTSIDE'}) "
        f"[{time.perf_counter() - began:.1f} s]"
    )
if len(rows) > 1:
    fate = np.array([r["fate_correct"] for r in rows])
    within = np.array([r["time_within_interval"] for r in rows])
    covered = np.array([r["scd50_covered"] for r in rows])
    print(
        f"over {len(rows)} seeds: fate right min {fate.min():.4f} mean {fate.mean():.4f}; "
        f"relapse time within one interval min {within.min():.4f} mean {within.mean():.4f}; "
        f"SCD50 CI covered the truth {int(covered.sum())}/{len(rows)}"
    )
