"""``hts adapt``: batch-norm statistics refitted to unlabelled images (AdaBN)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import tifffile

pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

import torch

from hts.cli.main import main
from hts.models import load_weights
from hts.testing import disk_image
from training.adapt import adapt_batch_norm


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU())


def test_statistics_are_the_average_over_the_images() -> None:
    net = _net()
    conv_before = net[0].weight.clone()
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (20 + 4 * i, 24), dtype=np.uint8) for i in range(3)]

    assert adapt_batch_norm(net, images) == 3

    features = [
        net[0](torch.from_numpy(im[None, None].astype(np.float32) / 255)).detach() for im in images
    ]
    mean = torch.stack([f.mean(dim=(0, 2, 3)) for f in features]).mean(0)
    var = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in features]).mean(0)
    torch.testing.assert_close(net[1].running_mean, mean)
    torch.testing.assert_close(net[1].running_var, var)
    assert torch.equal(net[0].weight, conv_before)  # nothing trained
    assert not net.training and net[1].momentum == 0.1  # eval mode, momentum put back


def test_no_images_or_no_batch_norm_is_an_error() -> None:
    with pytest.raises(ValueError, match="no images"):
        adapt_batch_norm(_net(), [])
    with pytest.raises(ValueError, match="no batch-norm"):
        adapt_batch_norm(torch.nn.Conv2d(1, 1, 3), [np.zeros((8, 8), np.uint8)])


def test_adapt_the_shipped_model_to_a_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    images = tmp_path / "lab" / "day1"
    images.mkdir(parents=True)
    for i in range(2):  # bright spheroids on a dark well: another look than training's
        image, _ = disk_image((160, 192), 30.0 + 5 * i, seed=i)
        tifffile.imwrite(images / f"B0{i + 1}.tif", (65535 - image).astype(np.uint16))
    (images / "B09.tif").write_bytes(b"not a tiff")
    out = tmp_path / "adapted.pt"

    with caplog.at_level(logging.WARNING):
        assert main(["adapt", "--images", str(tmp_path / "lab"), "--out", str(out)]) == 0

    assert any("B09.tif" in r.getMessage() for r in caplog.records)  # named, left out
    model, _, info = load_weights(out)
    shipped, _, shipped_info = load_weights(Path(__file__).parents[2] / "hts/models/unet-r34-v6.pt")
    assert info["model_id"].startswith(f"{shipped_info['model_id']}+bn-")
    assert info["adapted_from"] == shipped_info["model_id"]
    assert "2 images" in info["adapted_on"]
    new, old = model.state_dict(), shipped.state_dict()
    assert not torch.equal(new["encoder.bn1.running_mean"], old["encoder.bn1.running_mean"])
    assert torch.equal(new["encoder.conv1.weight"], old["encoder.conv1.weight"])


def test_a_folder_without_images_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    assert main(["adapt", "--images", str(tmp_path), "--out", str(tmp_path / "a.pt")]) == 1
    assert f"{tmp_path}: no images" in capsys.readouterr().err
    assert not (tmp_path / "a.pt").exists()
