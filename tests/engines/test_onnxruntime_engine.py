"""ONNX Runtime engine on the CPU: loading, batching, model ids and the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

from hts.engines import get_engine  # noqa: E402
from hts.engines.onnxruntime_engine import OnnxRuntimeEngine, default_providers  # noqa: E402


@pytest.fixture(scope="module")
def engine(weights: Path, cache_dir: Path) -> OnnxRuntimeEngine:
    return OnnxRuntimeEngine(weights, threads=1, cache_dir=cache_dir)


def test_engine_names_itself_and_its_model(engine: OnnxRuntimeEngine, onnx_file: Path) -> None:
    assert engine.name == "onnxruntime-cpu"
    assert engine.model_id == "test-net"
    assert engine.onnx_path == onnx_file


def test_predict_gives_probabilities_on_the_input_grid(
    engine: OnnxRuntimeEngine, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    probability = engine.predict(disk_batch[0])
    assert probability.shape == (2, 96, 128) and probability.dtype == np.float32
    assert 0.0 <= probability.min() and probability.max() <= 1.0
    assert engine.predict(disk_batch[0][:0]).shape == (0, 96, 128)
    with pytest.raises(ValueError, match="uint8"):
        engine.predict(disk_batch[0].astype(np.float32))
    with pytest.raises(ValueError, match=r"\(B, Y, X\)"):
        engine.predict(disk_batch[0][0])


def test_small_batches_give_the_same_result(
    engine: OnnxRuntimeEngine, weights: Path, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    one_at_a_time = OnnxRuntimeEngine(weights, threads=1, batch_size=1)
    np.testing.assert_allclose(
        one_at_a_time.predict(disk_batch[0]), engine.predict(disk_batch[0]), atol=1e-6
    )
    with pytest.raises(ValueError, match="batch_size"):
        OnnxRuntimeEngine(weights, batch_size=0)


def test_onnx_file_loads_with_its_model_id(
    engine: OnnxRuntimeEngine, onnx_file: Path, disk_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    direct = OnnxRuntimeEngine(onnx_file, threads=1)
    assert direct.model_id == "test-net" and direct.onnx_path == onnx_file
    np.testing.assert_array_equal(direct.predict(disk_batch[0]), engine.predict(disk_batch[0]))


def test_default_providers_end_with_the_cpu() -> None:
    providers = default_providers()
    assert providers[-1] == "CPUExecutionProvider"
    if not {"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(
        ort.get_available_providers()
    ):
        assert providers == ["CPUExecutionProvider"]


def test_registry_builds_the_engine_from_a_weight_path(weights: Path) -> None:
    # HTS_CACHE_DIR points at the session cache (conftest), so nothing is exported again
    loaded = get_engine("onnxruntime", weights)
    assert isinstance(loaded, OnnxRuntimeEngine) and loaded.model_id == "test-net"
