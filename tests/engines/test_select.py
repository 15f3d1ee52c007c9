"""Automatic engine choice: TensorRT on a GPU, else OpenVINO, else ONNX Runtime, else torch."""

from __future__ import annotations

import importlib.util

import pytest

from hts.engines import select
from hts.engines.select import auto_engine_name


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT here")
def test_cpu_machine_with_openvino_picks_openvino() -> None:
    pytest.importorskip("openvino")
    assert auto_engine_name() == "openvino"


@pytest.mark.parametrize(
    ("installed", "cuda", "expected"),
    [
        ({"tensorrt", "openvino", "onnxruntime", "torch"}, True, "tensorrt"),
        ({"tensorrt", "openvino", "onnxruntime", "torch"}, False, "openvino"),
        ({"tensorrt", "onnxruntime", "torch"}, False, "onnxruntime"),
        ({"onnxruntime", "torch"}, True, "onnxruntime"),
        ({"torch"}, True, "torch"),
    ],
)
def test_preference_order(
    installed: set[str], cuda: bool, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(select, "_importable", lambda module: module in installed)
    monkeypatch.setattr(select, "_cuda_available", lambda: cuda)
    assert auto_engine_name() == expected


def test_a_missing_module_is_not_importable() -> None:
    assert not select._importable("hts_no_such_module")
    assert select._importable("json")
