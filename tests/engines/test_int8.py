"""INT8 quantisation (NNCF): the cached IR, its accuracy check, the engine that runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")
pytest.importorskip("nncf")
pytest.importorskip("torch")

from hts.engines import get_engine
from hts.engines.int8 import (
    int8_check_path,
    int8_model_path,
    load_int8_check,
    quantize_int8,
)
from hts.engines.openvino_engine import OpenVinoEngine
from hts.measure.metrics import jaccard_distance
from hts.segment.int8 import check_int8

from .conftest import shifted_disk


@pytest.fixture(scope="module")
def calibration() -> list[np.ndarray]:
    """Eight disk images of the test network's kind, two sizes."""
    rng = np.random.default_rng(1)
    return [
        shifted_disk(shape, rng.uniform(15, 30), tuple(rng.integers(-10, 11, 2)), seed=40 + i)[0]
        for i, shape in enumerate([(96, 128)] * 6 + [(64, 64)] * 2)
    ]


@pytest.fixture(scope="module")
def int8_xml(weights: Path, cache_dir: Path, calibration: list[np.ndarray]) -> Path:
    return quantize_int8(weights, calibration, cache_dir=cache_dir)


def test_the_int8_model_is_cached_under_the_weights_hash(
    int8_xml: Path, weights: Path, cache_dir: Path, tmp_path: Path
) -> None:
    assert int8_xml == int8_model_path(weights, cache_dir=cache_dir)
    assert int8_xml.is_file() and int8_xml.with_suffix(".bin").is_file()
    other = tmp_path / "other.pt"
    other.write_bytes(weights.read_bytes() + b"\0")
    assert int8_model_path(other, cache_dir=cache_dir) != int8_xml  # new weights, new model


def test_int8_masks_match_fp32_on_disks(
    int8_xml: Path, weights: Path, cache_dir: Path, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    int8 = OpenVinoEngine(weights, precision="int8", threads=1, cache_dir=cache_dir)
    fp32 = OpenVinoEngine(weights, precision="fp32", threads=1, cache_dir=cache_dir)
    assert int8.name == "openvino-cpu-int8" and int8.model_id == "test-net"
    p8, p32 = int8.predict(disk_batch[0]), fp32.predict(disk_batch[0])
    assert p8.shape == p32.shape and p8.dtype == np.float32
    for a, b in zip(p8 >= 0.5, p32 >= 0.5, strict=True):
        assert jaccard_distance(a, b) < 0.02


def test_check_is_recorded_and_read_back(
    int8_xml: Path, weights: Path, cache_dir: Path, calibration: list[np.ndarray]
) -> None:
    images = [(f"disk{i}", im) for i, im in enumerate(calibration[:3])]
    check = check_int8(weights, {"disks": images}, cache_dir=cache_dir, threads=1)
    assert set(check.sets) == {"disks"} and check.sets["disks"]["n"] == 3
    assert check.accepted == (float(check.sets["disks"]["jcd_mean"]) <= check.bound)
    assert load_int8_check(weights, cache_dir=cache_dir) == check
    assert "INT8 vs fp32 masks" in check.line()
    # a rebuilt model drops the old check: it was of another model
    int8_check_path(weights, cache_dir=cache_dir).unlink()
    assert load_int8_check(weights, cache_dir=cache_dir) is None


def test_a_missing_int8_model_names_the_command(weights: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"python -m hts.segment.int8"):
        OpenVinoEngine(weights, precision="int8", threads=1, cache_dir=tmp_path / "empty")


def test_precisions_are_registered_engines() -> None:
    from hts.engines import available_engines

    assert {"openvino-bf16", "openvino-fp32", "openvino-int8"} <= set(available_engines())
    with pytest.raises(ValueError, match="unknown engine"):
        get_engine("openvino-int4", Path("x.pt"))
