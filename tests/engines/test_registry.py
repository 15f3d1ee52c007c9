"""The engine registry: names resolved on first use, options passed explicitly."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hts.engines import available_engines, engine_factory, get_engine, register_engine, registry
from hts.engines.tensorrt_engine import ShapeProfile


class RecordingEngine:
    """An engine that keeps the options it was built with."""

    name = "recording"

    def __init__(self, weights: Path, *, threads: int | None = None, depth: int = 1) -> None:
        self.weights = weights
        self.options = {"threads": threads, "depth": depth}
        self.model_id = weights.stem

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros(batch.shape, np.float32)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(registry, "_ENGINES", dict(registry._ENGINES))  # undone after the test
    register_engine("recording", RecordingEngine)
    register_engine("recording-deep", RecordingEngine, depth=3)
    return "recording"


def test_options_reach_the_engine(recording: str) -> None:
    engine = get_engine(recording, "w.pt", threads=2, depth=5)
    assert isinstance(engine, RecordingEngine)
    assert engine.options == {"threads": 2, "depth": 5} and engine.weights == Path("w.pt")


def test_a_variant_is_a_preset_of_options(recording: str) -> None:
    engine = get_engine("recording-deep", "w.pt", threads=1)
    assert isinstance(engine, RecordingEngine) and engine.options == {"threads": 1, "depth": 3}
    with pytest.raises(TypeError, match="fixes depth"):
        get_engine("recording-deep", "w.pt", depth=4)


def test_common_options_are_left_out_where_unused_others_are_refused(recording: str) -> None:
    engine = get_engine(recording, "w.pt", cache_dir="/nowhere")  # a common option
    assert isinstance(engine, RecordingEngine) and engine.options["threads"] is None
    with pytest.raises(TypeError, match="takes no option colour; it takes depth, threads"):
        get_engine(recording, "w.pt", colour="red")


def test_unknown_engine() -> None:
    assert {"torch", "onnxruntime", "openvino-int8", "tensorrt"} <= set(available_engines())
    with pytest.raises(ValueError, match="unknown engine 'no-such'"):
        get_engine("no-such", "w.pt")


def test_targets_name_real_classes_with_the_documented_options() -> None:
    """Every built-in target imports (without its library) and takes the common options
    or leaves them out; TensorRT takes its shape as an option."""
    assert engine_factory("onnxruntime").__name__ == "OnnxRuntimeEngine"
    assert engine_factory("openvino-bf16").__name__ == "OpenVinoEngine"
    assert engine_factory("torch").__name__ == "TorchEngine"
    trt = engine_factory("tensorrt")
    assert trt.__name__ == "TensorRTEngine"
    assert {"max_input", "cache_dir"} <= set(inspect.signature(trt).parameters)
    assert ShapeProfile.up_to("640x800", opt_batch=4) == ShapeProfile(
        opt_yx=(640, 800), max_yx=(640, 800), opt_batch=4
    )
    assert ShapeProfile.up_to(None) == ShapeProfile()
    with pytest.raises(ValueError, match="multiples of 32"):
        ShapeProfile.up_to((600, 800))


def _fresh_modules(code: str) -> set[str]:
    probe = f"import sys; {code}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_registry_imports_nothing_until_an_engine_is_built() -> None:
    loaded = _fresh_modules(
        "import hts.engines; from hts.engines import get_engine, available_engines; "
        "available_engines()"
    )
    heavy = {"torch", "onnx", "onnxruntime", "openvino", "tensorrt"}
    layers_above = {m for m in loaded if m.startswith(("hts.segment", "hts.synth", "hts.measure"))}
    assert not (loaded & heavy) and not layers_above, sorted((loaded & heavy) | layers_above)
    engine_modules = {m for m in loaded if m.endswith("_engine") and m.startswith("hts.engines")}
    assert not engine_modules


def test_onnxruntime_takes_threads_as_an_option(weights: Path, cache_dir: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    engine: Any = get_engine("onnxruntime", weights, threads=1, cache_dir=cache_dir)
    assert engine.session.get_session_options().intra_op_num_threads == 1
