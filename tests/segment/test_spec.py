"""A segmenter setting as one record: parsed once, it knows its model id and travels as is."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from hts.models import DEFAULT_MODEL, model_path, weights_model_id
from hts.segment import SegmenterSpec, as_spec, get_segmenter, segmenter_model_id

#: What results stores written before this record existed hold as ``model_id``.
SHIPPED_ID = weights_model_id(model_path(DEFAULT_MODEL))


@pytest.mark.parametrize(
    ("text", "model_id"),
    [
        ("unet", SHIPPED_ID),
        ("unet@0.5", SHIPPED_ID),  # the paper's scale is the default: no mark
        ("unet+tta", f"{SHIPPED_ID}+tta"),
        ("unet@0.6+tta", f"{SHIPPED_ID}@0.6+tta"),
        ("unet@0.6+tta+pol", f"{SHIPPED_ID}@0.6+tta+pol"),
        ("unet+pol", f"{SHIPPED_ID}+pol"),
        ("unet+edge", f"{SHIPPED_ID}+edge"),
        ("unet@0.6+tta+zoom+pol+edge", f"{SHIPPED_ID}@0.6+tta+zoom+pol+edge"),
        ("classical", "classical-1"),
    ],
)
def test_the_model_id_is_the_one_stores_already_hold(text: str, model_id: str) -> None:
    spec = SegmenterSpec.parse(text)
    assert spec.model_id == model_id == segmenter_model_id(text)


def test_parsing_once_gives_the_fields_and_text_round_trips() -> None:
    spec = SegmenterSpec.parse("unet@0.6+tta+pol", engine="onnxruntime")
    assert (spec.name, spec.weights, spec.scale) == ("unet", DEFAULT_MODEL, 0.6)
    assert spec.flip_average and spec.polarity and spec.is_network
    assert spec.engine == "onnxruntime" and spec.options == {}
    assert str(spec) == "unet@0.6+tta+pol"
    assert SegmenterSpec.parse(str(spec), engine="onnxruntime") == spec
    edged = SegmenterSpec.parse("unet+pol+edge")
    assert edged.edge and edged.polarity and str(edged) == "unet+pol+edge"
    classical = SegmenterSpec.parse("classical")
    assert not classical.is_network and str(classical) == "classical"


def test_a_weight_file_path_is_a_network_setting(tmp_path: pytest.TempPathFactory) -> None:
    spec = SegmenterSpec.parse("/models/mine.pt@0.7+tta")
    assert spec.weights == "/models/mine.pt" and spec.scale == 0.7 and spec.flip_average
    assert str(spec) == "/models/mine.pt@0.7+tta"


def test_engine_options_are_part_of_the_record_but_not_of_the_model_id() -> None:
    spec = SegmenterSpec.parse(
        "unet", engine="openvino", engine_options={"threads": 2, "cache_dir": "/c"}
    )
    assert spec.engine_options == (("cache_dir", "/c"), ("threads", 2))  # sorted: hashable
    assert spec.options == {"threads": 2, "cache_dir": "/c"}
    assert spec.model_id == SegmenterSpec.parse("unet").model_id
    assert spec != SegmenterSpec.parse("unet", engine="openvino")
    assert hash(spec) == hash(
        SegmenterSpec.parse(
            "unet", engine="openvino", engine_options={"threads": 2, "cache_dir": "/c"}
        )
    )


def test_the_record_travels_to_workers_whole() -> None:
    spec = SegmenterSpec.parse("unet@0.6+tta", engine="torch")
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and again.model_id == spec.model_id


def test_unknown_settings_fail_at_parsing() -> None:
    with pytest.raises(ValueError, match="unknown segmenter 'no-such'"):
        SegmenterSpec.parse("no-such")
    with pytest.raises(ValueError, match="entry-point group"):
        SegmenterSpec.parse("os:system")
    with pytest.raises(ValueError, match="not an input scale"):
        SegmenterSpec.parse("unet@big")
    with pytest.raises(ValueError, match=r"outside 0\.1-2"):
        SegmenterSpec.parse("unet@3")


def test_a_record_carries_its_engine_and_text_takes_one() -> None:
    spec = SegmenterSpec.parse("classical")
    assert as_spec(spec) is spec and as_spec("classical") == spec
    assert as_spec("unet", "torch").engine == "torch"
    with pytest.raises(ValueError, match="set it in the spec"):
        as_spec(spec, "torch")


def test_an_installed_plugin_parses_and_is_adapted_to_batches() -> None:
    spec = SegmenterSpec.parse("slow-classical")  # tests/conftest.py installs it
    assert not spec.is_network and spec.model_id == "slow-classical-1"
    model = get_segmenter(spec)
    assert model.engine_name is None and model.model_id == "slow-classical-1"
    assert get_segmenter(spec) is model  # built once per process


def test_importing_segment_loads_no_layer_above_and_no_engine() -> None:
    code = (
        "import sys, hts.segment; print(' '.join(sorted(m for m in sys.modules "
        "if m.startswith(('hts.distributed', 'hts.results', 'hts.analysis', 'hts.io')) "
        "or m.endswith('_engine') or m in ('torch', 'onnxruntime', 'openvino', 'tensorrt'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []
    code = (
        "import sys, hts.models; print(' '.join(sorted(m for m in sys.modules "
        "if m.startswith(('hts.engines', 'hts.segment', 'hts.measure')) or m == 'torch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []
