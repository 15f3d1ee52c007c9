"""Where a worker's time per image goes, stage by stage; optionally against an older revision.

Usage::

    python benchmarks/stages.py [--images 16] [--shape 1030 1300] [--repeats 5]
                                [--engine openvino-bf16] [--against REV]

A synthetic OME-Zarr plate of ``--images`` images of ``--shape`` (16-bit, `hts.synth`) is
made once in the work folder. Each stage is then timed over all its images in one process
(all cores): read and decode from the plate, preprocess, the bare network (batches of 4),
the probability back to full resolution, post-processing with measurements and QC.

With ``--against REV`` the stages of the code at git revision REV (its ``hts`` package,
unpacked with ``git archive``) are timed too, in fresh processes that alternate with the
current code's (A B A B ...), so both see the same machine; the network stage runs the
same engine in both. Prints medians over ``--repeats`` and the ratio, and whether the
masks are the same (the largest pixel-count difference of the two masks of any image).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import hts
assert hts.__file__.startswith(sys.argv[1]), hts.__file__
from hts.engines import get_engine
from hts.io import PlateStore
from hts.segment.postprocess import analyse_probability
from hts.segment.preprocess import preprocess, restore_probability

plate_path, weights, engine_name, n, batch = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), 4
plate = PlateStore(plate_path)
um = plate.pixel_size_um or 1.0
slots = [(w, f[0], t) for w, f in plate.fields.items() for t in plate.image_records(w, f[0])][:n]
if engine_name.startswith("openvino-"):  # older revisions know one "openvino" engine
    from hts.engines.openvino_engine import OpenVinoEngine
    engine = OpenVinoEngine(weights, precision=engine_name.split("-")[1])
else:
    engine = get_engine(engine_name, weights)
out = {}
def timed(name, func, items):
    t0 = time.perf_counter()
    res = [func(x) for x in items]
    out[name] = (time.perf_counter() - t0) / len(slots)
    return res
for _ in range(2):  # the first round warms caches and the engine
    images = timed("read and decode", lambda s: plate.read_image(*s), slots)
    inputs = timed("preprocess", preprocess, images)
    batches = [np.stack(inputs[i : i + batch]) for i in range(0, len(inputs), batch)]
    probs = np.concatenate(timed("network (" + engine_name + ")", engine.predict, batches))
    full = timed("probability to full resolution",
                 lambda pi: restore_probability(pi[0], original_shape=pi[1].shape),
                 list(zip(probs, images)))
    results = timed("post-processing, measurements, QC",
                    lambda pi: analyse_probability(pi[0], pixel_size_um=um, image=pi[1]),
                    list(zip(full, images)))
areas = [float(r.measurement.area_um2) for r in results]
flags = [int(r.flags.to_bits()) for r in results]
masks = [(f >= 0.5).sum() for f in full]
print(json.dumps({"times": out, "areas": areas, "flags": flags, "mask_px": [int(m) for m in masks]}))
"""


def make_plate(workdir: Path, n: int, shape: tuple[int, int]) -> Path:
    """A synthetic plate of ``n`` images of ``shape`` (cached)."""
    from hts.distributed.cluster import ClusterSpec
    from hts.distributed.ingest import ingest
    from hts.io import IngestOptions
    from hts.synth import write_synthetic_plate

    plate = workdir / f"stages_{n}_{shape[0]}x{shape[1]}.zarr"
    if plate.exists():
        return plate
    days = 4
    synth = write_synthetic_plate(
        workdir / f"stages_{n}_{shape[0]}x{shape[1]}_src",
        wells=max(1, -(-n // days)), days=days, shape=shape, seed=16,
        pixel_size_um=1.6 * 1300 / shape[1],
    )  # fmt: skip
    ingest(
        synth.images_dir, plate, options=IngestOptions(plate_map=synth.plate_map_csv),
        cluster=ClusterSpec(n_workers=1, threads_per_worker=2, processes=False),
    )  # fmt: skip
    return plate


def _unpack(revision: str, into: Path) -> Path:
    """The ``hts`` package of ``revision``, unpacked under ``into``."""
    root = into / revision
    if not (root / "hts").exists():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", revision, "hts"], check=True, capture_output=True
        ).stdout
        with tempfile.TemporaryFile() as f:
            f.write(archive)
            f.seek(0)
            with tarfile.open(fileobj=f) as tar:
                tar.extractall(root, filter="data")
    return root


def main() -> None:
    from hts.models.paths import DEFAULT_MODEL, model_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--shape", type=int, nargs=2, default=[1030, 1300])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--engine", default="openvino-bf16")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--against", help="git revision to compare with")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HTS_CACHE_DIR", str(args.workdir / "cache"))
    plate = make_plate(args.workdir, args.images, tuple(args.shape))
    roots = {"now": str(Path(__file__).resolve().parent.parent)}
    if args.against:
        roots[args.against] = str(_unpack(args.against, args.workdir / "revisions"))
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in roots}  # the children's JSON
    for _ in range(args.repeats):
        for name, root in roots.items():
            argv = [root, str(plate), str(model_path(args.model)), args.engine, str(args.images)]
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, *argv], check=True, capture_output=True, text=True
            )
            runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    stages = list(runs["now"][0]["times"])
    med = {
        name: {s: statistics.median(r["times"][s] for r in rs) for s in stages}
        for name, rs in runs.items()
    }
    mp = args.shape[0] * args.shape[1] / 1e6
    print(
        f"{args.images} images {args.shape[0]} x {args.shape[1]} ({mp:.2f} MP), {os.cpu_count()} CPUs"
    )
    head = " | ".join(f"{name} s/image" for name in roots)
    print(
        f"| stage (one process, all cores) | {head} |" + (" now / before |" if args.against else "")
    )
    print("|---|" + "---:|" * (len(roots) + bool(args.against)))
    for s in [*stages, "total", "outside the network"]:
        vals = []
        for name in roots:
            t = med[name]
            v = (
                sum(t.values()) if s == "total"
                else sum(x for k, x in t.items() if not k.startswith("network"))
                if s == "outside the network" else t[s]
            )  # fmt: skip
            vals.append(v)
        ratio = f" {vals[0] / vals[1]:.2f} |" if args.against else ""
        print(f"| {s} | " + " | ".join(f"{v:.4f}" for v in vals) + f" |{ratio}")
    if args.against:
        now, before = runs["now"][0], runs[args.against][0]
        diff = max(abs(a - b) for a, b in zip(now["mask_px"], before["mask_px"], strict=True))
        same = now["areas"] == before["areas"] and now["flags"] == before["flags"]
        print(f"\nlargest mask pixel-count difference {diff}; areas and QC flags identical: {same}")


if __name__ == "__main__":
    main()
