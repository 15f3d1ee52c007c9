"""INT8 post-training quantisation of the network for OpenVINO on CPUs (NNCF).

`quantize_int8` calibrates the cached ONNX export on preprocessed images (activation
ranges only: no weight is trained) and saves an OpenVINO IR (``.xml`` + ``.bin``) in the
cache directory under the weight file's hash, so new weights get a new INT8 model and an
old one is never used for them. Its accuracy check (`Int8Check`: masks against fp32's,
mean JCD within `JCD_BOUND` on every set) is recorded beside it; only an accepted INT8
model is a candidate of the automatic engine choice (`hts.engines.autotune`).

The check needs pre- and post-processing and test images from the layers above: it and
the command that rebuilds both for any weight file are `hts.segment.int8`
(``python -m hts.segment.int8``).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hts.engines.base import onnx_input
from hts.engines.cache import (
    atomic_write_bytes,
    exclusive_lock,
    int8_model_path,
)
from hts.engines.onnx_export import cached_onnx

__all__ = [
    "JCD_BOUND",
    "Int8Check",
    "int8_check_path",
    "int8_model_path",
    "load_int8_check",
    "quantize_int8",
    "record_int8_check",
]

logger = logging.getLogger(__name__)

#: Masks of an accepted INT8 model are within this mean Jaccard distance of fp32's.
JCD_BOUND = 0.005


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


def record_int8_check(
    check: Int8Check, weights: Path | str, *, cache_dir: Path | str | None = None
) -> Path:
    """Write ``check`` beside ``weights``'s INT8 model (JSON); returns its path."""
    path = int8_check_path(weights, cache_dir=cache_dir)
    atomic_write_bytes(path, json.dumps(asdict(check), indent=1).encode())
    return path


def load_int8_check(
    weights: Path | str, *, cache_dir: Path | str | None = None
) -> Int8Check | None:
    """The recorded check of ``weights``'s INT8 model; None when there is no model or check."""
    path = int8_check_path(weights, cache_dir=cache_dir)
    if not (path.is_file() and path.with_suffix(".xml").is_file()):
        return None
    record = json.loads(path.read_text())
    return Int8Check(**record)
