"""Segmentation throughput: bare engines vs end-to-end plate runs, in one process run.

Usage::

    python benchmarks/throughput.py [--model unet-r34-v6] [--images 96] [--repeats 3]

1. Bare engines: the same preprocessed images through torch fp32, torch bf16, ONNX
   Runtime fp32 and OpenVINO bf16 (batches of ``--batch``), median seconds per
   image over ``--repeats``, and the Jaccard distance of each engine's masks to torch
   fp32's (the accuracy bound).
2. End to end: ``run_plate`` on a synthetic plate of ``--images`` images (read Zarr,
   preprocess, infer, post-process, write), local cluster of 1 worker x 2 threads and of
   2 workers x 1 thread, redone ``--repeats`` times; seconds per image in the steady state
   (first finished block to last) and for the whole run (cluster start and model loads
   included), and the ratio of the bare engine's time to the steady end-to-end time.
3. Stages: where one worker's time per image goes, each stage timed alone in one process
   (read and decode from the plate, preprocess, OpenVINO, probability back to full
   resolution, post-processing with measurements and QC).
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np


def _plate(workdir: Path, n: int) -> Path:
    from hts.distributed.cluster import ClusterSpec
    from hts.distributed.ingest import ingest
    from hts.io import IngestOptions
    from hts.synth import write_synthetic_plate

    plate = workdir / f"throughput_{n}.zarr"
    if plate.exists():
        return plate
    days = 8
    synth = write_synthetic_plate(
        workdir / f"throughput_{n}_src", wells=max(1, n // days), days=days, seed=5
    )
    ingest(
        synth.images_dir, plate, options=IngestOptions(plate_map=synth.plate_map_csv),
        cluster=ClusterSpec(n_workers=1, threads_per_worker=2, processes=False),
    )  # fmt: skip
    return plate


def _images(plate_path: Path, n: int) -> list[np.ndarray]:
    from hts.io import PlateStore

    plate = PlateStore(plate_path)
    out = []
    for well, fields in plate.fields.items():
        for t in plate.image_records(well, fields[0]):
            out.append(plate.read_image(well, fields[0], t))
    return out[:n]


class _Engine(Protocol):
    """What the benchmark calls on every engine."""

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


def _engines(weights: Path, threads: int) -> dict[str, _Engine]:
    import torch

    from hts.engines.onnxruntime_engine import OnnxRuntimeEngine
    from hts.engines.openvino_engine import OpenVinoEngine
    from hts.engines.torch_engine import TorchEngine

    torch.set_num_threads(threads)
    return {
        "torch fp32": TorchEngine(weights, precision="fp32"),
        "torch bf16": TorchEngine(weights, precision="bf16"),
        "onnxruntime fp32": OnnxRuntimeEngine(weights, threads=threads),
        "openvino bf16": OpenVinoEngine(weights, precision="bf16", threads=threads),
    }


def bare(
    weights: Path, images: list[np.ndarray], *, batch: int, repeats: int, threads: int
) -> dict[str, dict[str, Any]]:
    from hts.measure.metrics import jaccard_distance
    from hts.segment.preprocess import preprocess

    inputs = np.stack([preprocess(im) for im in images])
    results: dict[str, dict[str, Any]] = {}
    masks: dict[str, np.ndarray] = {}
    for name, engine in _engines(weights, threads).items():
        engine.predict(inputs[:batch])  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            probs = np.concatenate(
                [engine.predict(inputs[i : i + batch]) for i in range(0, len(inputs), batch)]
            )
            times.append((time.perf_counter() - t0) / len(inputs))
        masks[name] = probs >= 0.5
        results[name] = {"s_per_image": statistics.median(times), "runs": times}
    reference = masks["torch fp32"]
    for name, m in masks.items():
        jcd = [jaccard_distance(a, b) for a, b in zip(m, reference, strict=True)]
        results[name]["jcd_mean"] = float(np.mean(jcd))
        results[name]["jcd_max"] = float(np.max(jcd))
    return results


def stages(
    plate_path: Path, weights: Path, n: int, *, batch: int, repeats: int, threads: int
) -> dict[str, float]:
    """Median seconds per image of each stage of a worker's pipeline, timed one by one."""
    from hts.engines.openvino_engine import OpenVinoEngine
    from hts.io import PlateStore
    from hts.segment.postprocess import analyse_probability
    from hts.segment.preprocess import preprocess, restore_probability

    plate = PlateStore(plate_path)
    um = plate.pixel_size_um or 1.0
    slots = [(w, f[0], t) for w, f in plate.fields.items() for t in plate.image_records(w, f[0])]
    slots = slots[:n]
    engine = OpenVinoEngine(weights, precision="bf16", threads=threads)
    runs: dict[str, list[float]] = {}

    def timed(name: str, func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        t0 = time.perf_counter()
        out = [func(x) for x in items]
        runs.setdefault(name, []).append((time.perf_counter() - t0) / len(slots))
        return out

    for _ in range(repeats):
        images = timed("read and decode", lambda s: plate.read_image(*s), slots)
        inputs = timed("preprocess", preprocess, images)
        batches = [np.stack(inputs[i : i + batch]) for i in range(0, len(inputs), batch)]
        probs = np.concatenate(timed("openvino bf16", engine.predict, batches))
        full = timed(
            "probability to full resolution",
            lambda pi: restore_probability(pi[0], original_shape=pi[1].shape),
            list(zip(probs, images, strict=True)),
        )
        timed(
            "post-processing, measurements, QC",
            lambda pi: analyse_probability(pi[0], pixel_size_um=um, image=pi[1]),
            list(zip(full, images, strict=True)),
        )
    return {name: statistics.median(t) for name, t in runs.items()}


def _record_progress(done: list[tuple[float, int]], n: int) -> None:
    done.append((time.perf_counter(), n))


def end_to_end(
    plate: Path,
    workdir: Path,
    *,
    engine: str,
    weights: Path,
    workers: int,
    threads: int,
    repeats: int,
    suffix: str = "",
) -> tuple[list[float], list[float]]:
    """Seconds per image of whole runs (cluster start and model loads included) and of the
    steady state (from the first finished block to the last: what a long run sees).
    ``suffix``: segmenter modes after the weight file, e.g. ``+edge``."""
    from hts.distributed.cluster import ClusterSpec
    from hts.distributed.run import run_plate

    results = workdir / "throughput_results.zarr"
    whole, steady = [], []
    for _ in range(repeats):
        shutil.rmtree(results, ignore_errors=True)
        done: list[tuple[float, int]] = []
        t0 = time.perf_counter()
        summary = run_plate(
            plate, results, segmenter=str(weights) + suffix, engine=engine,
            cluster=ClusterSpec(n_workers=workers, threads_per_worker=threads), batch_size=4,
            progress=partial(_record_progress, done),
        )  # fmt: skip
        n = sum(summary.counts.values())
        whole.append((time.perf_counter() - t0) / n)
        after_first = sum(k for _, k in done[1:])
        steady.append((done[-1][0] - done[0][0]) / after_first)
    return whole, steady


def main() -> None:
    from hts.models.paths import DEFAULT_MODEL, model_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HTS_CACHE_DIR", str(args.workdir / "cache"))
    weights = model_path(args.model)
    plate = _plate(args.workdir, args.images)
    images = _images(plate, args.images)
    cpus = os.cpu_count() or 1
    print(f"model {weights.name}, {len(images)} images {images[0].shape}, {cpus} CPUs\n")
    b = bare(weights, images, batch=args.batch, repeats=args.repeats, threads=cpus)
    print(
        "| engine (bare, all cores) | s/image (median) | runs | mask JCD vs torch fp32 (mean / max) |"
    )
    print("|---|---:|---|---|")
    for name, r in b.items():
        runs = ", ".join(f"{x:.3f}" for x in r["runs"])
        print(
            f"| {name} | {r['s_per_image']:.3f} | {runs} | {r['jcd_mean']:.4f} / {r['jcd_max']:.4f} |"
        )
    print("\n| stage (one process, all cores) | s/image (median) |")
    print("|---|---:|")
    parts = stages(
        plate, weights, len(images), batch=args.batch, repeats=args.repeats, threads=cpus
    )
    for name, sec in parts.items():
        print(f"| {name} | {sec:.4f} |")
    print(f"| total | {sum(parts.values()):.4f} |")
    if args.skip_e2e:
        return
    print(
        "\n| engine | workers x threads | end-to-end s/image, steady (median) | runs | "
        "whole run incl. start-up | bare s/image | bare / end-to-end (steady) |"
    )
    print("|---|---|---:|---|---:|---:|---:|")
    pairs = (
        ("openvino", "openvino bf16"),
        ("onnxruntime", "onnxruntime fp32"),
        ("torch", "torch bf16"),
    )
    for engine, bare_name in pairs:
        for workers, threads in ((1, cpus), (cpus, 1)):
            whole, times = end_to_end(
                plate,
                args.workdir,
                engine=engine,
                weights=weights,
                workers=workers,
                threads=threads,
                repeats=args.repeats,
            )
            med = statistics.median(times)
            bare_s = b[bare_name]["s_per_image"]
            runs = ", ".join(f"{x:.3f}" for x in times)
            print(
                f"| {engine} | {workers} x {threads} | {med:.3f} | {runs} | "
                f"{statistics.median(whole):.3f} | {bare_s:.3f} | {bare_s / med:.2f} |"
            )


if __name__ == "__main__":
    main()
