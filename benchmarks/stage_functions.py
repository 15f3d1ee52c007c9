"""The CPU stages outside the network, now against an older revision, call by call in one process.

Usage::

    python benchmarks/stage_functions.py --against 98e37a7 [--images 16] [--rounds 15]

`stages.py` compares whole processes, which a busy machine's load swings between; here the
old revision's ``hts/segment/preprocess.py`` and ``hts/measure/qc.py`` (unpacked with
``git archive``) and the current ones run in turn on the same images in one process, round
after round, so both see the same load. Stages: preprocess (min-max, half resolution, pad)
and post-processing (threshold, spheroid choice, measurement, QC with the focus measure) on
``--images`` synthetic 1300 x 1030 16-bit images (`hts.synth.training`, seed 3) and their
OpenVINO bf16 maps restored to full size. Prints median seconds per image and the ratio,
and whether network inputs and QC bits are identical.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from stages import _unpack


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    from hts.engines import get_engine
    from hts.measure.choose import choose_spheroid
    from hts.measure.morphometrics import measure_object
    from hts.models.paths import model_path
    from hts.segment.postprocess import THRESHOLD
    from hts.synth.training import training_sample

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", required=True, help="git revision to compare with")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    root = _unpack(args.against, args.workdir / "revisions")
    old_pre = _load("old_preprocess", root / "hts/segment/preprocess.py")
    old_qc = _load("old_qc", root / "hts/measure/qc.py")
    new_pre = importlib.import_module("hts.segment.preprocess")
    new_qc = importlib.import_module("hts.measure.qc")

    images = [training_sample(3, i).image for i in range(args.images)]
    engine = get_engine("openvino-bf16", model_path())
    fulls = [
        new_pre.restore_probability(
            engine.predict(new_pre.preprocess(im)[None])[0], original_shape=im.shape
        )
        for im in images
    ]

    def post(qc: ModuleType) -> Callable[[np.ndarray, np.ndarray], int]:
        def run(full: np.ndarray, image: np.ndarray) -> int:
            mask = full >= THRESHOLD
            chosen = choose_spheroid(mask, full)
            m = measure_object(chosen.spheroid, pixel_size_um=1.0)
            return int(qc.qc_flags(full, mask, m, image=image, choice=chosen).to_bits())

        return run

    stages = {
        "preprocess": (
            lambda i: new_pre.preprocess(images[i]),
            lambda i: old_pre.preprocess(images[i]),
        ),
        "post-processing, measurements, QC": (
            lambda i: post(new_qc)(fulls[i], images[i]),
            lambda i: post(old_qc)(fulls[i], images[i]),
        ),
    }
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in stages}
    for _ in range(args.rounds):
        for name, pair in stages.items():
            for k, func in enumerate(pair):
                t0 = time.perf_counter()
                for i in range(len(images)):
                    func(i)
                times[name][k].append((time.perf_counter() - t0) / len(images))
    print(
        f"| stage (one process, in turn, {args.rounds} rounds) | now s/image | {args.against} s/image | now / before |"
    )
    print("|---|---:|---:|---:|")
    for name, (now, before) in times.items():
        a, b = statistics.median(now), statistics.median(before)
        print(f"| {name} | {a:.4f} | {b:.4f} | {a / b:.2f} |")
    same_input = all(
        np.array_equal(old_pre.preprocess(im), new_pre.preprocess(im)) for im in images
    )
    same_qc = all(
        stages["post-processing, measurements, QC"][0](i)
        == stages["post-processing, measurements, QC"][1](i)
        for i in range(len(images))
    )
    print(f"\nnetwork inputs identical: {same_input}; QC bits identical: {same_qc}")


if __name__ == "__main__":
    main()
