"""The automatic CPU engine: timed once per CPU model, key and record in the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hts.engines import autotune
from hts.engines.autotune import cpu_model, measured_engine_name, timing_key
from hts.engines.select import auto_engine_name, static_engine_name


def test_cpu_model_and_key(tmp_path: Path) -> None:
    assert cpu_model()
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"a")
    key = timing_key(weights, ["openvino-bf16", "onnxruntime"], threads=2)
    assert key.startswith(cpu_model()) and "threads=2" in key
    assert key != timing_key(weights, ["openvino-bf16", "onnxruntime"], threads=4)
    assert key != timing_key(weights, ["openvino-int8", "onnxruntime"], threads=2)
    weights.write_bytes(b"b")
    assert key != timing_key(weights, ["openvino-bf16", "onnxruntime"], threads=2)


def test_timed_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"a")
    calls: list[list[str]] = []

    def fake_child(weights: Path, candidates: list[str], **kwargs: object) -> dict[str, object]:
        calls.append(list(candidates))
        return {"engine": candidates[-1], "s_per_call": {c: 1.0 for c in candidates}}

    monkeypatch.setattr(autotune, "cpu_candidates", lambda w, cache_dir=None: ["a", "b"])
    monkeypatch.setattr(autotune, "_time_in_child", fake_child)
    assert measured_engine_name(weights, cache_dir=tmp_path) == "b"
    assert measured_engine_name(weights, cache_dir=tmp_path) == "b"
    assert calls == [["a", "b"]]
    records = json.loads((tmp_path / "engine-choice.json").read_text())
    assert [r["engine"] for r in records.values()] == ["b"]
    monkeypatch.setattr(autotune, "cpu_candidates", lambda w, cache_dir=None: ["only"])
    assert measured_engine_name(weights, cache_dir=tmp_path) == "only"  # nothing to time


def test_static_setting_and_no_weights_skip_the_timing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("timed")

    monkeypatch.setattr(autotune, "measured_engine_name", fail)
    assert auto_engine_name() == static_engine_name()
    monkeypatch.setenv(autotune.AUTO_ENGINE_ENV, "static")
    assert auto_engine_name(tmp_path / "w.pt") == static_engine_name()


def test_a_failed_timing_falls_back_to_the_fixed_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"not a weight file")
    monkeypatch.setattr(
        autotune, "cpu_candidates", lambda w, cache_dir=None: ["onnxruntime", "openvino-fp32"]
    )
    monkeypatch.setenv("HTS_CACHE_DIR", str(tmp_path))
    assert measured_engine_name(weights) is None  # both fail to load: nothing timed
    if static_engine_name() != "tensorrt":
        assert auto_engine_name(weights) == static_engine_name()


@pytest.mark.slow  # 28 s and 11 s of set-up; .ci/run runs it
def test_real_timing_in_a_child_process(weights: Path, cache_dir: Path) -> None:
    """Two real engines on the test network, timed in a child, the faster recorded."""
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime")
    record = autotune._time_in_child(
        weights, ["openvino-fp32", "onnxruntime"], cache_dir=cache_dir, timeout_s=300
    )
    assert record is not None
    times = record["s_per_call"]
    assert isinstance(times, dict) and set(times) == {"openvino-fp32", "onnxruntime"}
    assert record["engine"] == min(times, key=times.__getitem__)
