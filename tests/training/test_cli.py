"""``hts train`` on a lab's handful of annotated images, fine-tuning the shipped model."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

from hts.cli.main import main
from hts.models import load_weights
from hts.models.paths import DEFAULT_MODEL
from hts.testing import disk_image


@pytest.mark.slow  # 22 s: the shipped ResNet34 U-Net; .ci/run runs it
def test_fine_tune_the_shipped_model_on_one_image(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    image, mask = disk_image((160, 192), 30.0, seed=3)
    tifffile.imwrite(images / "lab_B03.tif", image)
    cv2.imwrite(str(masks / "lab_B03.png"), mask.astype(np.uint8) * 255)
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        code = main(
            [
                "train", "--images", str(images), "--masks", str(masks),
                "--pixel-size-um", "1.3", "--init", "unet", "--out", str(out),
                "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--crop", "64",
                "--max-lr", "1e-5", "--photometric", "0.5", "--loss", "image-dice+ce",
                "--freeze-norm",
            ]
        )  # fmt: skip
    assert code == 0
    # one image cannot be split: it trains, and validation says it is no test
    assert "too few to hold some out" in caplog.text
    _, _, info = load_weights(out / "best.pt")
    assert info["fine_tuned_from"] == DEFAULT_MODEL


def test_unknown_init_model_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--init", "unet-r34-v0", "--out", str(tmp_path / "r"), "--synthetic",
                 "2", "--epochs", "1", "--steps-per-epoch", "1"])  # fmt: skip
    assert code != 0
    assert "no model 'unet-r34-v0'" in capsys.readouterr().err
