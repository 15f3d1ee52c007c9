"""Choose the CPU engine and precision by a short timing at first use, cached per CPU model.

Figures from one machine do not travel: OpenVINO bf16 was 5.8x faster than ONNX Runtime on
an Intel Xeon with AMX and only 2.3x on an AMD EPYC with AVX-512 bf16 and no AMX, where INT8
beat both (docs/benchmarks.md). So the first process on a node that needs the automatic
engine times the candidates (`cpu_candidates`: every installed engine and precision that
is within the accuracy bound) on one input of the paper's network size, and records the
fastest in the cache directory under a key of the CPU model, its instruction flags, the
engine threads, the engine libraries' versions and the weight file's hash. Later
processes, and later runs, read the record. Timing runs in a child process, so a worker
keeps none of the candidates' memory, and under a lock, so a node's workers time once.

``$HTS_AUTO_ENGINE=static`` skips the timing (the fixed order of
`hts.engines.select.static_engine_name`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hts.engines.cache import atomic_write_bytes, exclusive_lock, file_digest, resolve_cache_dir
from hts.engines.cpu import cpu_flags, cpu_model
from hts.engines.registry import get_engine
from hts.engines.settings import AUTO_ENGINE_ENV, CACHE_DIR_ENV, engine_threads

__all__ = [
    "AUTO_ENGINE_ENV",
    "TIMING_SHAPE",
    "cpu_candidates",
    "cpu_flags",
    "cpu_model",
    "measured_engine_name",
    "time_engines",
    "timing_key",
]

logger = logging.getLogger(__name__)

#: The network input the candidates are timed on: a 1300 x 1030 image at half resolution.
TIMING_SHAPE = (544, 672)
#: File of the recorded choices, in the cache directory.
_RECORDS = "engine-choice.json"
#: Instruction flags that change which engine or precision is fastest.
_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_candidates(weights: Path | str, *, cache_dir: Path | str | None = None) -> list[str]:
    """Registered engine names worth timing here, the likely fastest first.

    OpenVINO INT8 only where the CPU has VNNI or AMX and an INT8 model of ``weights`` was
    accepted (`hts.segment.int8.check_int8`); bf16 engines only where the CPU has bf16
    units (elsewhere they are emulated); fp32 engines always.
    """
    from hts.engines.cpu import cpu_has_int8

    flags = cpu_flags()
    bf16 = bool(flags & {"avx512_bf16", "amx_bf16"}) or not flags
    names = []
    if importlib.util.find_spec("openvino") is not None:
        from hts.engines.int8 import load_int8_check

        check = load_int8_check(weights, cache_dir=cache_dir)
        if check is not None and check.accepted and cpu_has_int8():
            names.append("openvino-int8")
        if bf16:
            names.append("openvino-bf16")
    if importlib.util.find_spec("torch") is not None and bf16:
        names.append("torch")  # bf16 autocast on CPUs
    if importlib.util.find_spec("onnxruntime") is not None:
        names.append("onnxruntime")
    if importlib.util.find_spec("openvino") is not None:
        names.append("openvino-fp32")
    return names


def timing_key(weights: Path | str, candidates: Sequence[str], *, threads: int | None) -> str:
    """What a recorded choice depends on: CPU, threads, library versions, weights, candidates."""
    flags = ",".join(f for f in _FLAGS if f in cpu_flags())
    versions = ",".join(
        f"{d}={v}" for d in ("openvino", "onnxruntime", "torch") if (v := _version(d)) is not None
    )
    return "|".join(
        [
            cpu_model(),
            flags,
            f"threads={threads or os.cpu_count()}",
            versions,
            file_digest(weights),
            "+".join(candidates),
        ]
    )


def _timing_input() -> np.ndarray:
    """A dark disk on a noisy background at `TIMING_SHAPE`, ``(1, Y, X)`` uint8."""
    rng = np.random.default_rng(0)
    y, x = np.ogrid[: TIMING_SHAPE[0], : TIMING_SHAPE[1]]
    disk = (y - TIMING_SHAPE[0] / 2) ** 2 + (x - TIMING_SHAPE[1] / 2) ** 2 < 120**2
    image = rng.normal(170.0, 12.0, TIMING_SHAPE) - 90.0 * disk
    return np.clip(image, 0, 255).astype(np.uint8)[None]


def time_engines(
    weights: Path | str, candidates: Sequence[str], *, repeats: int = 3, slack: float = 1.5
) -> dict[str, float]:
    """Median seconds per call of each candidate on `_timing_input`, after one warm-up.

    A candidate whose first timed call takes more than ``slack`` times the best median so
    far is not timed further (it cannot win); one that fails to load or run is left out.
    """
    x = _timing_input()
    times: dict[str, float] = {}
    for name in candidates:
        try:
            engine = get_engine(name, Path(weights))
            engine.predict(x)
            runs: list[float] = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                engine.predict(x)
                runs.append(time.perf_counter() - t0)
                if times and runs[0] > slack * min(times.values()):
                    break
        except Exception as error:  # noqa: BLE001 - a candidate that fails is no candidate
            logger.warning("engine %s left out of the timing: %s", name, error)
            continue
        times[name] = statistics.median(runs)
        del engine
    return times


def _read_records(path: Path) -> dict[str, dict[str, object]]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def measured_engine_name(
    weights: Path | str, *, cache_dir: Path | str | None = None, timeout_s: float = 600.0
) -> str | None:
    """The fastest CPU engine for ``weights`` here, timed once per key (`timing_key`).

    Returns None where nothing could be timed (the caller falls back to the fixed order).
    """
    threads = engine_threads()
    candidates = cpu_candidates(weights, cache_dir=cache_dir)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    key = timing_key(weights, candidates, threads=threads)
    path = resolve_cache_dir(cache_dir) / _RECORDS
    record = _read_records(path).get(key)
    if record is None:
        with exclusive_lock(path.with_suffix(".lock")):
            record = _read_records(path).get(key)  # another process may have timed meanwhile
            if record is None:
                record = _time_in_child(
                    weights, candidates, cache_dir=cache_dir, timeout_s=timeout_s
                )
                if record is None:
                    return None
                records = _read_records(path)
                records[key] = record
                atomic_write_bytes(path, json.dumps(records, indent=1).encode())
    name = str(record["engine"])
    logger.info("automatic engine on %s: %s (timed %s)", cpu_model(), name, record["s_per_call"])
    return name


def _time_in_child(
    weights: Path | str,
    candidates: Sequence[str],
    *,
    cache_dir: Path | str | None,
    timeout_s: float,
) -> dict[str, object] | None:
    """Run `time_engines` in a fresh interpreter; its record, or None if it failed."""
    env = dict(os.environ)
    if cache_dir is not None:
        env[CACHE_DIR_ENV] = str(cache_dir)
    command = [sys.executable, "-m", "hts.engines.autotune", str(weights), *candidates]
    logger.info("timing engines %s on %s (once per CPU model)", ", ".join(candidates), cpu_model())
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env, check=True
        )
        times = {k: float(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    except (subprocess.SubprocessError, ValueError, IndexError) as error:
        stderr = getattr(error, "stderr", "") or ""
        logger.warning("engine timing failed (%s) %s", error, stderr[-2000:])
        return None
    if not times:
        return None
    return {
        "engine": min(times, key=times.__getitem__),
        "s_per_call": {k: round(v, 4) for k, v in times.items()},
        "input": list(TIMING_SHAPE),
        "cpu": cpu_model(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="time CPU engines; prints JSON {engine: s}")
    parser.add_argument("weights", type=Path)
    parser.add_argument("candidates", nargs="+")
    args = parser.parse_args(argv)
    threads = engine_threads()
    if threads is not None and "torch" in args.candidates:
        import torch

        torch.set_num_threads(threads)  # as the other engines take $HTS_ENGINE_THREADS
    times = time_engines(args.weights, args.candidates)
    sys.stdout.write(json.dumps(times) + "\n")


if __name__ == "__main__":
    main()
