"""What the default's modes (``+edge``, ``+near``) cost beside the network, in one run.

For each image of a folder: the shipped network's map at image size (the default engine,
preprocess and restore included), then `hts.segment.outline.refine_outline` on it; both
timed ``--repeats`` times, alternating, medians reported. With ``--modes``, each image is
also segmented by each of those settings in turn (``--repeats`` times, alternating), and
the table gives each setting's mean seconds per image (of the per-image medians: images
looked at again cost more, so the mean is what a plate pays) and its ratio to the first.
With ``--plate N``, also plate runs end to end (`benchmarks/throughput.py`'s synthetic
plate of N 1300 x 1030 images, one local worker x 2 threads, OpenVINO) of the same
settings (default ``unet`` and ``unet+edge``), alternating. Prints Markdown tables;
docs/benchmarks.md has the figures and the command.

    python benchmarks/outline.py ../shared/real-dev/images:1 testset/images --repeats 5 \
        --plate 64
    python benchmarks/outline.py testset/images heldout/images --repeats 3 \
        --modes unet unet+edge unet+near+edge --plate 64
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

from hts.engines.cpu import cpu_model
from hts.io.readers import IMAGE_SUFFIXES, read_image
from hts.segment import get_segmenter
from hts.segment.outline import refine_outline

log = logging.getLogger("benchmarks.outline")


def time_folder(
    folder: Path, pixel_size_um: float | None, repeats: int
) -> tuple[int, float, float]:
    """(images, median network seconds per image, median outline seconds per image)."""
    network = get_segmenter("unet")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    net_times: list[float] = []
    rule_times: list[float] = []
    for path in paths:
        data = read_image(path)
        um = pixel_size_um or data.header.pixel_size_um
        if um is None:
            raise ValueError(f"{path}: no pixel size in the file; give FOLDER:UM")
        network.predict(data.pixels, pixel_size_um=um)  # warm caches for this shape
        for _ in range(repeats):
            t0 = time.perf_counter()
            probability = network.predict(data.pixels, pixel_size_um=um)
            t1 = time.perf_counter()
            refine_outline(probability, data.pixels, pixel_size_um=um)
            t2 = time.perf_counter()
            net_times.append(t1 - t0)
            rule_times.append(t2 - t1)
    return len(paths), statistics.median(net_times), statistics.median(rule_times)


def time_modes(
    folder: Path, pixel_size_um: float | None, repeats: int, modes: list[str]
) -> dict[str, float]:
    """Mean over the folder's images of each setting's median seconds per image."""
    segmenters = {mode: get_segmenter(mode) for mode in modes}
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    per_image: dict[str, list[float]] = {mode: [] for mode in modes}
    for path in paths:
        data = read_image(path)
        um = pixel_size_um or data.header.pixel_size_um
        if um is None:
            raise ValueError(f"{path}: no pixel size in the file; give FOLDER:UM")
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for segmenter in segmenters.values():
            segmenter.predict(data.pixels, pixel_size_um=um)  # warm caches for this shape
        for _ in range(repeats):
            for mode, segmenter in segmenters.items():
                t0 = time.perf_counter()
                segmenter.predict(data.pixels, pixel_size_um=um)
                times[mode].append(time.perf_counter() - t0)
        for mode in modes:
            per_image[mode].append(statistics.median(times[mode]))
    return {mode: statistics.fmean(per_image[mode]) for mode in modes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="image folders, FOLDER or FOLDER:PIXEL_UM")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plate", type=int, default=0, help="images of a plate run (0: none)")
    parser.add_argument(
        "--modes", nargs="+", default=[], help="settings to time per image, the first the base"
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("CPU: %s", cpu_model())
    print(
        "| images | n | network s/image (median) | +edge rule s/image (median) | rule / network |"
    )
    print("|---|---:|---:|---:|---:|")
    for text in args.folders:
        folder, _, um = text.partition(":")
        n, net, rule = time_folder(Path(folder), float(um) if um else None, args.repeats)
        print(f"| {folder} | {n} | {net:.3f} | {rule:.3f} | {rule / net:.2f} |")
    if args.modes:
        print("\n| images | " + " | ".join(f"{m} s/image (mean)" for m in args.modes) + " |")
        print("|---|" + "---:|" * len(args.modes))
        for text in args.folders:
            folder, _, um = text.partition(":")
            means = time_modes(Path(folder), float(um) if um else None, args.repeats, args.modes)
            base = means[args.modes[0]]
            cells = [f"{means[m]:.3f} ({means[m] / base:.2f}x)" for m in args.modes]
            print(f"| {folder} | " + " | ".join(cells) + " |")
    if args.plate:
        suffixes = [m.removeprefix("unet") for m in args.modes] or ["", "+edge"]
        plate_runs(args.workdir, args.plate, args.repeats, suffixes)


def plate_runs(workdir: Path, n: int, repeats: int, suffixes: list[str]) -> None:
    """Steady end-to-end seconds per image of plate runs of ``unet`` + each suffix."""
    from throughput import _plate, end_to_end  # benchmarks/ is this script's folder

    from hts.models.paths import DEFAULT_MODEL, model_path

    workdir.mkdir(parents=True, exist_ok=True)
    plate = _plate(workdir, n)
    weights = model_path(DEFAULT_MODEL)
    steady: dict[str, list[float]] = {suffix: [] for suffix in suffixes}
    for _ in range(repeats):
        for suffix, runs in steady.items():
            _, s = end_to_end(
                plate, workdir, engine="openvino", weights=weights, workers=1, threads=2,
                repeats=1, suffix=suffix,
            )  # fmt: skip
            runs.extend(s)
    print("\n| segmenter | end-to-end s/image, steady (median) | runs |")
    print("|---|---:|---|")
    for suffix, runs in steady.items():
        shown = ", ".join(f"{x:.3f}" for x in runs)
        print(f"| unet{suffix} | {statistics.median(runs):.3f} | {shown} |")
    base = statistics.median(steady[suffixes[0]])
    for suffix in suffixes[1:]:
        ratio = statistics.median(steady[suffix]) / base
        print(f"\nunet{suffix} / unet{suffixes[0]}, end to end: {ratio:.2f}")


if __name__ == "__main__":
    main()
