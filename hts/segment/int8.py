"""The INT8 model's accuracy check and the command that rebuilds it for any weight file.

`hts.engines.int8.quantize_int8` makes the INT8 OpenVINO model; `check_int8` compares its
masks with fp32's, made as a run makes them (`preprocess`, `restore_probability`, the 0.5
threshold), and records whether it is accepted. The command does both::

    python -m hts.segment.int8 [--model unet-r34-v6] [--real-dev DIR] [--synthetic 59]

It calibrates on the images of ``--real-dev`` (calibration only, never training) and
``--synthetic`` domain-randomised images of `hts.synth.training` (seed `CALIBRATION_SEED`),
then checks on those real images and on other synthetic images (seed `CHECK_SEED`).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hts.engines.cache import file_digest
from hts.engines.int8 import JCD_BOUND, Int8Check, quantize_int8, record_int8_check
from hts.segment.preprocess import preprocess, restore_probability

__all__ = ["CALIBRATION_SEED", "CHECK_SEED", "check_int8", "main"]

logger = logging.getLogger(__name__)

#: Seeds of the synthetic calibration and check images (`hts.synth.training`), apart from
#: the training sets' seeds and the model card's test sets (3, 2026).
CALIBRATION_SEED = 1616
CHECK_SEED = 1617


def check_int8(
    weights: Path | str,
    sets: Mapping[str, Sequence[tuple[str, np.ndarray]]],
    *,
    cache_dir: Path | str | None = None,
    bound: float = JCD_BOUND,
    threads: int | None = None,
) -> Int8Check:
    """Compare INT8 masks with fp32 masks per set, record the result beside the model.

    Parameters
    ----------
    sets : mapping of name -> sequence of (image name, (Y, X) image)
        Original images (any dtype `preprocess` takes); masks are compared on the original
        grid, after `restore_probability` and the 0.5 threshold, as a run makes them.
    """
    from hts.engines.openvino_engine import OpenVinoEngine
    from hts.measure.metrics import jaccard_distance

    engines = {
        p: OpenVinoEngine(weights, precision=p, threads=threads, cache_dir=cache_dir)
        for p in ("fp32", "int8")
    }
    figures: dict[str, dict[str, float | int | str]] = {}
    for set_name, images in sets.items():
        jcd: list[float] = []
        for _, image in images:
            x = preprocess(image)[None]
            masks = [
                restore_probability(e.predict(x)[0], original_shape=image.shape) >= 0.5
                for e in engines.values()
            ]
            jcd.append(float(jaccard_distance(masks[1], masks[0])))
        worst = int(np.argmax(jcd))
        figures[set_name] = {
            "n": len(jcd),
            "jcd_mean": statistics.fmean(jcd),
            "jcd_worst": jcd[worst],
            "worst_image": images[worst][0],
        }
    accepted = all(float(s["jcd_mean"]) <= bound for s in figures.values())
    check = Int8Check(file_digest(weights), accepted, bound, figures)
    record_int8_check(check, weights, cache_dir=cache_dir)
    return check


def _real_images(folder: Path) -> list[tuple[str, np.ndarray]]:
    from hts.io.readers import IMAGE_SUFFIXES, read_image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [(p.stem, read_image(p).pixels) for p in files]


def _synthetic_images(seed: int, n: int) -> list[tuple[str, np.ndarray]]:
    from hts.synth.training import training_sample

    out = []
    for i in range(n):
        sample = training_sample(
            seed, i, cellular_probability=0.5, burn_in_probability=0.2, whole_well_probability=0.1
        )
        out.append((f"synthetic-{seed}-{i}", sample.image))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from hts.models.paths import DEFAULT_MODEL, model_path

    parser = argparse.ArgumentParser(
        prog="python -m hts.segment.int8", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="shipped model name or weight file")
    parser.add_argument("--real-dev", type=Path, help="folder of real images (calibration only)")
    parser.add_argument("--synthetic", type=int, default=59, help="synthetic calibration images")
    parser.add_argument("--check-synthetic", type=int, default=48, help="synthetic check images")
    parser.add_argument("--cache-dir", type=Path, help="default: $HTS_CACHE_DIR or ~/.cache/hts")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    weights = model_path(args.model)
    real = _real_images(args.real_dev) if args.real_dev else []
    t0 = time.perf_counter()
    calibration = [
        preprocess(im) for _, im in real + _synthetic_images(CALIBRATION_SEED, args.synthetic)
    ]
    path = quantize_int8(weights, calibration, cache_dir=args.cache_dir)
    logger.info("quantised in %.0f s: %s", time.perf_counter() - t0, path)
    sets = {"synthetic": _synthetic_images(CHECK_SEED, args.check_synthetic)}
    if real:
        sets["real-dev"] = real
    check = check_int8(weights, sets, cache_dir=args.cache_dir, threads=args.threads)
    logger.info(check.line())
    return 0 if check.accepted else 1


if __name__ == "__main__":
    raise SystemExit(main())
