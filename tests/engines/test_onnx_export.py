"""ONNX export: the graph's contract, its metadata, and one export per weight-file content."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

from hts.engines import onnx_export  # noqa: E402
from hts.engines.cache import file_digest  # noqa: E402
from hts.engines.onnx_export import ONNX_OPSET, cached_onnx  # noqa: E402
from hts.models.paths import weights_model_id  # noqa: E402


def _dims(value_info: Any) -> list[str | int]:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_export_has_dynamic_image_in_and_probability_out(onnx_file: Path, weights: Path) -> None:
    proto = onnx.load(str(onnx_file))
    onnx.checker.check_model(proto)
    (image,), (probability,) = proto.graph.input, proto.graph.output
    assert image.name == "image" and _dims(image) == ["batch", 1, "height", "width"]
    assert probability.name == "probability" and _dims(probability) == ["batch", "height", "width"]
    float32 = onnx.TensorProto.FLOAT
    assert image.type.tensor_type.elem_type == probability.type.tensor_type.elem_type == float32
    assert {o.domain: o.version for o in proto.opset_import}[""] == ONNX_OPSET
    assert "Softmax" in {node.op_type for node in proto.graph.node}  # no torch needed after
    # fp32 weights: 4 bytes per parameter of the fp16 weight file (2 bytes each)
    assert 1.8 < onnx_file.stat().st_size / weights.stat().st_size < 2.1


def test_export_records_model_id_and_source_hash(onnx_file: Path, weights: Path) -> None:
    metadata = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    assert metadata["model_id"] == "test-net"
    assert weights_model_id(onnx_file) == weights_model_id(weights) == "test-net"
    assert metadata["weights_sha256"] == file_digest(weights)
    assert metadata["precision"] == "fp32"
    assert onnx_file.name == f"{file_digest(weights)}-opset{ONNX_OPSET}-fp32.onnx"


def test_half_export_keeps_float32_input_and_output(half_onnx_file: Path) -> None:
    proto = onnx.load(str(half_onnx_file))
    weights = [t for t in proto.graph.initializer if t.data_type in (1, 10)]  # FLOAT, FLOAT16
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {p.key: p.value for p in proto.metadata_props}["precision"] == "fp16"


def test_concurrent_callers_share_one_export_and_later_calls_reuse_it(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports: list[Path] = []
    real_export = onnx_export.export_onnx

    def counting_export(*args: Any, **kwargs: Any) -> Path:
        exports.append(Path(args[1]))
        return real_export(*args, **kwargs)

    monkeypatch.setattr(onnx_export, "export_onnx", counting_export)
    results: list[Path] = []
    callers = [
        threading.Thread(target=lambda: results.append(cached_onnx(weights, cache_dir=tmp_path)))
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(results) == 2 and results[0] == results[1] and len(exports) == 1
    path = results[0]
    written = path.stat().st_ino, path.stat().st_mtime_ns
    copy = tmp_path / "renamed-copy.pt"  # the key is the content, not the name
    copy.write_bytes(weights.read_bytes())
    assert cached_onnx(weights, cache_dir=tmp_path) == cached_onnx(copy, cache_dir=tmp_path) == path
    assert len(exports) == 1 and (path.stat().st_ino, path.stat().st_mtime_ns) == written
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_failed_export_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a weight file")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"broken\.pt: not a torch weight file"):
        cached_onnx(broken, cache_dir=cache)
    assert not [p for p in cache.iterdir() if not p.name.endswith(".lock")]


def test_onnx_files_are_used_as_they_are(onnx_file: Path, tmp_path: Path) -> None:
    assert cached_onnx(onnx_file, cache_dir=tmp_path) == onnx_file
    assert not list(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError, match="no ONNX file"):
        cached_onnx(tmp_path / "missing.onnx")
    with pytest.raises(FileNotFoundError, match="no model weight file"):
        cached_onnx(tmp_path / "missing.pt")


def test_exported_graph_runs_at_other_sizes(onnx_file: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    x = np.full((3, 1, 32, 160), 0.5, dtype=np.float32)
    (probability,) = session.run(["probability"], {"image": x})
    assert probability.shape == (3, 32, 160) and probability.dtype == np.float32
    assert 0.0 <= probability.min() and probability.max() <= 1.0
