"""OpenVINO on this CPU: fp32, bf16 and INT8 of one weight file, timed side by side.

Usage::

    python -m hts.segment.int8 --real-dev ../shared/real-dev/images   # builds INT8 once
    python benchmarks/precision.py [--model unet-r34-v6] [--rounds 5] [--batch 4]

The three precisions are compiled in one process (2 inference threads unless
``$HTS_ENGINE_THREADS`` says otherwise) and called in turn, round after round, on the same
batch of ``--batch`` network inputs of 544 x 672 (a 1030 x 1300 image at the paper's half
resolution, padded; preprocessed images of `hts.synth.training`, seed 1618), so every precision sees the same
machine state. Prints the CPU, a Markdown table of seconds per image (median over
``--rounds``, every round listed) and each precision's time relative to bf16. INT8 is left
out, and said so, where its model is not in the cache; its accuracy check (masks against
fp32's) is `python -m hts.segment.int8`'s, printed beside it where it was recorded.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

#: The network input of a 1300 x 1030 image at the paper's half resolution.
INPUT_SHAPE = (544, 672)
SEED = 1618


def inputs(n: int) -> np.ndarray:
    """``n`` preprocessed synthetic 1030 x 1300 images (`INPUT_SHAPE` each), (N, Y, X)."""
    from hts.segment.preprocess import preprocess
    from hts.synth.training import training_sample

    batch = np.stack([preprocess(training_sample(SEED, i).image) for i in range(n)])
    if batch.shape[1:] != INPUT_SHAPE:
        raise RuntimeError(f"network inputs of {batch.shape[1:]}, not {INPUT_SHAPE}")
    return batch


def main() -> None:
    from hts.engines.cpu import cpu_flags, cpu_model
    from hts.engines.int8 import int8_model_path, load_int8_check
    from hts.engines.openvino_engine import OpenVinoEngine
    from hts.models.paths import model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet-r34-v6")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()

    weights = model_path(args.model)
    batch = inputs(args.batch)
    precisions = ["fp32", "bf16"]
    if int8_model_path(weights).is_file():
        precisions.append("int8")
    else:
        print(f"INT8 left out: no INT8 model of {weights} in the cache (build it first).")
    engines = {p: OpenVinoEngine(weights, precision=p) for p in precisions}
    for engine in engines.values():
        engine.predict(batch)  # warm-up: first inference allocates
    times: dict[str, list[float]] = {p: [] for p in precisions}
    for _ in range(args.rounds):
        for p, engine in engines.items():
            t0 = time.perf_counter()
            engine.predict(batch)
            times[p].append((time.perf_counter() - t0) / len(batch))

    units = sorted(cpu_flags() & {"avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8"})
    print(f"CPU: {cpu_model()} ({', '.join(units) or 'no bf16/VNNI/AMX'})")
    print(f"model {weights.name}; batch {args.batch} of {INPUT_SHAPE}")
    check = load_int8_check(weights) if "int8" in precisions else None
    if check is not None:
        print(f"INT8 accuracy check: {check.line()}")
    bf16 = statistics.median(times["bf16"])
    print("\n| precision | s/image (median) | rounds | vs bf16 |\n|---|---:|---|---:|")
    for p in precisions:
        median = statistics.median(times[p])
        rounds = ", ".join(f"{t:.3f}" for t in times[p])
        print(f"| OpenVINO {p} | {median:.3f} | {rounds} | {median / bf16:.2f} |")


if __name__ == "__main__":
    main()
