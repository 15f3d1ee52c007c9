"""The U-Net behind the segmenter interface: shapes, batching, weight files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

from hts.models import ModelConfig, build_model, load_weights, save_weights  # noqa: E402
from hts.segment.network import NetworkSegmenter  # noqa: E402
from hts.segment.preprocess import preprocess, restore_probability  # noqa: E402
from hts.segment.registry import get_segmenter, segmenter_model_id  # noqa: E402


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    return save_weights(build_model(), path, config=ModelConfig(), model_id="test-net")


def test_weight_file_round_trips_in_fp16(weights: Path) -> None:
    _, config, info = load_weights(weights)
    assert config == ModelConfig() and info["model_id"] == "test-net"
    n_values = sum(v.numel() for v in build_model().state_dict().values())
    assert weights.stat().st_size < 2 * n_values + 1e6  # fp16: two bytes per value
    assert weights.stat().st_size < 50e6  # the shipping limit
    with pytest.raises(FileNotFoundError, match="no model weight file"):
        load_weights(weights.parent / "missing.pt")


def test_segmenter_returns_probabilities_on_the_original_grid(weights: Path) -> None:
    segmenter = NetworkSegmenter.load(weights)
    assert segmenter.model_id == "test-net"
    images = [
        np.random.default_rng(i).integers(1000, 4000, (103, 130), dtype=np.uint16) for i in range(3)
    ]
    probs = segmenter.predict_batch(images)
    assert [p.shape for p in probs] == [(103, 130)] * 3
    assert all(p.dtype == np.float32 and 0.0 <= p.min() and p.max() <= 1.0 for p in probs)
    single = segmenter.predict(images[1], pixel_size_um=1.0)
    np.testing.assert_allclose(single, probs[1], atol=0.02)  # bf16: batch and single agree closely
    mixed = segmenter.predict_batch([images[0], np.zeros((64, 70), np.uint8)])
    assert [p.shape for p in mixed] == [(103, 130), (64, 70)]


@pytest.mark.slow  # 30 s: three segmenters loaded; .ci/run runs it
def test_flip_average_is_the_mean_over_the_papers_flips(weights: Path) -> None:
    plain = NetworkSegmenter.load(weights)
    tta = NetworkSegmenter.load(weights, flip_average=True)
    assert tta.model_id == "test-net+tta"
    # 128 x 192 halves to 64 x 96, multiples of 32: no padding, and halving commutes with flips
    image = np.random.default_rng(3).integers(1000, 4000, (128, 192), dtype=np.uint16)
    flips = [
        lambda a: a,
        lambda a: a[::-1],
        lambda a: a[:, ::-1],
        lambda a: a[::-1, ::-1],
    ]
    # the average is taken over the network's own maps, before they go back to full size
    net_input = preprocess(image, plain.config)
    by_hand = restore_probability(
        np.mean(
            [f(plain.engine.predict(np.ascontiguousarray(f(net_input))[None])[0]) for f in flips],
            axis=0,
        ),
        original_shape=image.shape,
        config=plain.config,
    )
    averaged = tta.predict(image, pixel_size_um=1.0)
    np.testing.assert_allclose(averaged, by_hand, atol=0.02)
    # an untrained network is not flip-symmetric; its flip average is
    mirrored = tta.predict(np.ascontiguousarray(image[::-1]), pixel_size_um=1.0)
    np.testing.assert_allclose(mirrored[::-1], averaged, atol=0.02)
    assert np.abs(plain.predict(image[::-1].copy(), pixel_size_um=1.0)[::-1] - by_hand).max() > 0.02
    assert get_segmenter(f"{weights}+tta").model_id == "test-net+tta"
    assert segmenter_model_id(f"{weights}+tta") == "test-net+tta"
    assert segmenter_model_id("unet+tta") == segmenter_model_id("unet") + "+tta"


def test_input_scale_runs_the_network_on_a_larger_input(weights: Path) -> None:
    """``@0.6``: the network sees the image at 0.6 of its size instead of half; the map
    still comes back on the original grid, and the model id records the mode."""
    seen: list[tuple[int, ...]] = []
    scaled = NetworkSegmenter.load(weights, scale=0.6)
    engine = scaled.engine

    class Recording:
        name = "recording"

        def predict(self, batch: np.ndarray) -> np.ndarray:
            seen.append(batch.shape)
            return engine.predict(batch)

    scaled.engine = Recording()
    image = np.random.default_rng(4).integers(1000, 4000, (200, 300), dtype=np.uint16)
    prob = scaled.predict(image, pixel_size_um=1.0)
    assert prob.shape == (200, 300) and prob.dtype == np.float32
    assert seen == [(1, 128, 192)]  # 120 x 180 padded to 32s (half: 100 x 150 -> 128 x 160)
    assert scaled.config.scale == 0.6 and scaled.model_id == "test-net@0.6"
    assert get_segmenter(f"{weights}@0.6+tta").model_id == "test-net@0.6+tta"
    assert segmenter_model_id(f"{weights}@0.6+tta") == "test-net@0.6+tta"
    assert segmenter_model_id("unet@0.6+tta") == segmenter_model_id("unet") + "@0.6+tta"
    assert segmenter_model_id("unet@0.5") == segmenter_model_id("unet")  # the paper's scale
    with pytest.raises(ValueError, match="not an input scale"):
        get_segmenter("unet@big")
    with pytest.raises(ValueError, match="outside"):
        get_segmenter("unet@3")


def test_registry_accepts_a_weight_path(weights: Path) -> None:
    assert get_segmenter(str(weights)).model_id == "test-net"
    with pytest.raises(ValueError, match="unknown segmenter"):
        get_segmenter("no-such-model")


def test_model_id_is_read_without_loading_the_network(weights: Path) -> None:
    assert segmenter_model_id(str(weights)) == "test-net"
    assert segmenter_model_id("unet") == get_segmenter("unet", "torch").model_id
    assert segmenter_model_id("classical") == get_segmenter("classical").model_id
    with pytest.raises(ValueError, match="unknown segmenter"):
        segmenter_model_id("no-such-model")


def test_model_id_needs_no_torch_and_runs_no_code_from_the_file(tmp_path: Path) -> None:
    import pickle
    import subprocess
    import sys
    import zipfile

    code = (
        "import sys; from hts.models.paths import weights_model_id, model_path; "
        "print(weights_model_id(model_path())); assert 'torch' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == get_segmenter("unet", "torch").model_id
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"model_id": print}))  # builtins.print
    with pytest.raises(ValueError, match="not allowed"):
        segmenter_model_id(str(evil))


def test_hrnet_alternative_is_selectable() -> None:
    model = build_model(ModelConfig.hrnet())
    x = torch.zeros(1, 1, 64, 64)
    with torch.no_grad():
        assert model.eval()(x).shape == (1, 2, 64, 64)


def test_a_payload_behind_a_torch_name_is_refused_in_one_line_naming_the_file(
    tmp_path: Path, disk_folder: Path
) -> None:
    """Refused before any worker starts: one error line, no traceback from the workers."""
    import subprocess
    import sys

    class Payload:  # a call of a torch function: what weights_only=True refuses to run
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return torch.serialization.load, (str(tmp_path / "inner.pkl"),)

    evil = tmp_path / "evil.pt"
    torch.save({"model_id": "evil", "config": Payload(), "state_dict": {}}, evil)
    with pytest.raises(ValueError, match=r"evil\.pt: .*torch\.serialization\.load"):
        segmenter_model_id(str(evil))
    with pytest.raises(ValueError, match=r"evil\.pt: refused"):
        load_weights(evil)

    def hts(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "hts.cli.main", "-q", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    plate = tmp_path / "P.zarr"
    assert hts("ingest", str(disk_folder), "--out", str(plate)).returncode == 0
    done = hts("run", str(plate), "--model", str(evil), "--engine", "torch", "--workers", "1")
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(evil) in lines[0] and "Traceback" not in done.stderr, lines
