"""OpenVINO engine on the CPU: loading, precision, model ids, the compile cache, the registry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")
pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

from hts.engines import get_engine
from hts.engines.openvino_engine import OpenVinoEngine, cpu_has_bf16


@pytest.fixture(scope="module")
def engine(weights: Path, cache_dir: Path) -> OpenVinoEngine:
    return OpenVinoEngine(weights, threads=1, cache_dir=cache_dir)


def test_engine_names_itself_its_precision_and_its_model(
    engine: OpenVinoEngine, onnx_file: Path
) -> None:
    expected = "bf16" if cpu_has_bf16() else "fp32"
    assert engine.precision == expected and engine.name == f"openvino-cpu-{expected}"
    assert engine.model_id == "test-net"
    assert engine.onnx_path == onnx_file


def test_predict_gives_probabilities_on_the_input_grid(
    engine: OpenVinoEngine, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    probability = engine.predict(disk_batch[0])
    assert probability.shape == (2, 96, 128) and probability.dtype == np.float32
    assert 0.0 <= probability.min() and probability.max() <= 1.0
    assert engine.predict(disk_batch[0][:0]).shape == (0, 96, 128)
    with pytest.raises(ValueError, match="uint8"):
        engine.predict(disk_batch[0].astype(np.float32))


def test_results_are_not_overwritten_by_the_next_call(
    engine: OpenVinoEngine, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    """The request reuses its output buffer; what predict returned must be a copy."""
    first = engine.predict(disk_batch[0][:1])
    kept = first.copy()
    engine.predict(disk_batch[0][1:])
    np.testing.assert_array_equal(first, kept)


def test_threads_calling_at_once_each_get_their_own_result(
    engine: OpenVinoEngine, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    """A Dask worker with several threads calls one engine from all of them."""
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 256, (2, 96, 128), dtype=np.uint8) for _ in range(4)]
    expected = [engine.predict(x) for x in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(5):
            got = list(pool.map(engine.predict, inputs))
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_array_equal(g, e)


def test_fp32_agrees_with_onnxruntime(
    weights: Path, cache_dir: Path, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    pytest.importorskip("onnxruntime")
    from hts.engines.onnxruntime_engine import OnnxRuntimeEngine

    fp32 = OpenVinoEngine(weights, precision="fp32", threads=1, cache_dir=cache_dir)
    reference = OnnxRuntimeEngine(weights, threads=1, cache_dir=cache_dir)
    np.testing.assert_allclose(
        fp32.predict(disk_batch[0]), reference.predict(disk_batch[0]), atol=1e-4
    )


def test_compiled_model_is_cached(engine: OpenVinoEngine, cache_dir: Path) -> None:
    assert any((cache_dir / "openvino").iterdir())


def test_unknown_precision_is_refused(weights: Path) -> None:
    with pytest.raises(ValueError, match="precision"):
        OpenVinoEngine(weights, precision="int4")


def test_registry_builds_the_engine_from_a_weight_path(weights: Path) -> None:
    loaded = get_engine("openvino", weights)
    assert isinstance(loaded, OpenVinoEngine) and loaded.model_id == "test-net"
