"""INT8 post-training quantisation of the network for OpenVINO on CPUs (NNCF).

`quantize_int8` calibrates the cached ONNX export on preprocessed images (activation
ranges only: no weight is trained) and saves an OpenVINO IR (``.xml`` + ``.bin``) in the
cache directory under the weight file's hash, so new weights get a new INT8 model and an
old one is never used for them. `check_int8` compares its masks with fp32's and records
whether it is accepted (mean JCD within `JCD_BOUND` on every set); only an accepted INT8
model is a candidate of the automatic engine choice (`hts.engines.autotune`).

The command rebuilds both for any weight file (default: the shipped model)::

    python -m hts.engines.int8 [--model unet-r34-v6] [--real-dev DIR] [--synthetic 59]

It calibrates on the images of ``--real-dev`` (calibration only, never training) and
``--synthetic`` domain-randomised images of `hts.synth.training` (seed `CALIBRATION_SEED`),
then checks on those real images and on other synthetic images (seed `CHECK_SEED`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hts.engines.base import onnx_input
from hts.engines.cache import (
    atomic_write_bytes,
    exclusive_lock,
    file_digest,
    int8_model_path,
)
from hts.engines.onnx_export import cached_onnx

__all__ = [
    "CALIBRATION_SEED",
    "CHECK_SEED",
    "JCD_BOUND",
    "Int8Check",
    "check_int8",
    "int8_check_path",
    "int8_model_path",
    "load_int8_check",
    "quantize_int8",
]

logger = logging.getLogger(__name__)

#: Masks of an accepted INT8 model are within this mean Jaccard distance of fp32's.
JCD_BOUND = 0.005
#: Seeds of the synthetic calibration and check images (`hts.synth.training`), apart from
#: the training sets' seeds and the model card's test sets (3, 2026).
CALIBRATION_SEED = 1616
CHECK_SEED = 1617


def int8_check_path(weights: Path | str, *, cache_dir: Path | str | None = None) -> Path:
    """Where the accuracy check of ``weights``'s INT8 model is recorded (JSON)."""
    return int8_model_path(weights, cache_dir=cache_dir).with_suffix(".json")


def quantize_int8(
    weights: Path | str,
    calibration: Sequence[np.ndarray],
    *,
    cache_dir: Path | str | None = None,
) -> Path:
    """Quantise the network's weights and activations to INT8 with NNCF; returns the ``.xml``.

    Parameters
    ----------
    weights : path
        A ``.pt`` weight file (exported to ONNX once, `cached_onnx`).
    calibration : sequence of (Y, X) uint8
        Preprocessed network inputs (`hts.segment.preprocess.preprocess`); sizes may differ.
    cache_dir : path, optional
        Cache directory (default `resolve_cache_dir`).

    Notes
    -----
    NNCF's mixed preset (symmetric weights, asymmetric activations) with fast bias
    correction; every calibration image is used. The IR is written under a temporary name
    and renamed into place, the same lock as the ONNX export keeps two processes apart.
    """
    import nncf
    import openvino as ov

    if not calibration:
        raise ValueError("INT8 calibration needs at least one image")
    out = int8_model_path(weights, cache_dir=cache_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out.with_suffix(".lock")):
        model = ov.Core().read_model(str(cached_onnx(weights, cache_dir=cache_dir)))
        dataset = nncf.Dataset(list(calibration), lambda image: onnx_input(image[None]))
        quantized = nncf.quantize(
            model,
            dataset,
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(calibration),
            fast_bias_correction=True,
        )
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            staged = Path(tmp) / out.name
            ov.save_model(quantized, str(staged), compress_to_fp16=False)
            # .bin first: a reader that finds the .xml finds its weights too
            shutil.move(staged.with_suffix(".bin"), out.with_suffix(".bin"))
            shutil.move(staged, out)
        out.with_suffix(".json").unlink(missing_ok=True)  # an older check is of older weights
    logger.info("INT8 model of %s at %s (%d calibration images)", weights, out, len(calibration))
    return out


@dataclass(frozen=True)
class Int8Check:
    """Masks of the INT8 model against fp32 (OpenVINO fp32, same pre- and post-processing).

    ``sets`` maps a set's name to ``{"n", "jcd_mean", "jcd_worst", "worst_image"}``.
    """

    weights_digest: str
    accepted: bool
    bound: float
    sets: dict[str, dict[str, float | int | str]]

    def line(self) -> str:
        parts = "; ".join(
            f"{name}: mean JCD {s['jcd_mean']:.4f}, worst {s['jcd_worst']:.4f} ({s['worst_image']})"
            for name, s in self.sets.items()
        )
        verdict = "accepted" if self.accepted else "NOT accepted"
        return f"INT8 vs fp32 masks ({verdict}, bound mean JCD {self.bound}): {parts}"


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
    from hts.segment.preprocess import preprocess, restore_probability

    kwargs = {"threads": threads, "cache_dir": cache_dir}
    engines = {p: OpenVinoEngine(weights, precision=p, **kwargs) for p in ("fp32", "int8")}  # type: ignore[arg-type]
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
    path = int8_check_path(weights, cache_dir=cache_dir)
    atomic_write_bytes(path, json.dumps(asdict(check), indent=1).encode())
    return check


def load_int8_check(
    weights: Path | str, *, cache_dir: Path | str | None = None
) -> Int8Check | None:
    """The recorded check of ``weights``'s INT8 model; None when there is no model or check."""
    path = int8_check_path(weights, cache_dir=cache_dir)
    if not (path.is_file() and path.with_suffix(".xml").is_file()):
        return None
    record = json.loads(path.read_text())
    return Int8Check(**record)


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
    from hts.segment.preprocess import preprocess

    parser = argparse.ArgumentParser(
        prog="python -m hts.engines.int8", description=__doc__.split("\n")[0]
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
