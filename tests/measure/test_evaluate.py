"""Evaluating a segmenter on a folder of images with reference masks."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from hts.measure.evaluate import evaluate_folder, format_table, size_bin, write_outputs
from hts.testing import disk_image


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, Path]:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, radius in enumerate([10, 20, 30]):
        image, mask = disk_image((80, 100), radius, seed=i)
        tifffile.imwrite(
            images / f"im{i}.tif", image, resolution=(5000, 5000), resolutionunit="CENTIMETER"
        )
        cv2.imwrite(str(masks / f"im{i}.png"), mask.astype(np.uint8) * 255)
    (tmp_path / "index.csv").write_text(
        "file,category\nim0.tif,debris\nim1.tif,clean\nim2.tif,clean\n"
    )
    return images, masks


def test_perfect_and_empty_predictions_score_as_defined(
    folder: tuple[Path, Path], tmp_path: Path
) -> None:
    images, masks = folder

    def oracle(image: np.ndarray, um: float) -> np.ndarray:
        return (image < 2300).astype(np.float32)  # the disk is 1500 ADU darker than 3000

    scores = evaluate_folder(images, masks, predict=oracle)
    assert [s.category for s in scores] == ["debris", "clean", "clean"]
    assert all(s.score.jcd < 0.02 for s in scores)
    assert scores[1].target_diameter_um == pytest.approx(2 * 20 * 2.0, rel=0.03)

    nothing = evaluate_folder(images, masks, predict=lambda im, um: np.zeros(im.shape, np.float32))
    assert all(s.score.invalid and s.score.jcd == 1.0 and s.score.rdd == 1.0 for s in nothing)
    table = format_table(nothing)
    assert "category debris" in table and "1.000 (0.000)" in table

    write_outputs(scores, tmp_path / "out", images=images, masks=masks, predict=oracle)
    assert (tmp_path / "out" / "worst.png").exists()
    assert len((tmp_path / "out" / "per_image.csv").read_text().splitlines()) == 4


def test_size_bins() -> None:
    assert size_bin(150.0) == "<200 um"
    assert size_bin(200.0) == "200-400 um"
    assert size_bin(800.0) == ">=600 um"
    assert size_bin(math.nan) == "none"


def _wall_folder(tmp_path: Path) -> tuple[Path, Path]:
    """One image: a dark well wall along the top, larger than the spheroid (the reference)."""
    images, masks = tmp_path / "wall_images", tmp_path / "wall_masks"
    images.mkdir()
    masks.mkdir()
    image, spheroid = disk_image((120, 160), 14, seed=3)
    image[:22] = 1500  # the wall: as dark as the spheroid, 22 x 160 px along the border
    tifffile.imwrite(images / "w.tif", image, resolution=(5000, 5000), resolutionunit="CENTIMETER")
    cv2.imwrite(str(masks / "w.png"), spheroid.astype(np.uint8) * 255)
    return images, masks


def _dark(image: np.ndarray, um: float) -> np.ndarray:
    return (image < 2300).astype(np.float32)


def test_evaluate_scores_the_object_a_run_chooses(tmp_path: Path) -> None:
    from hts.measure.choose import ChoiceParams

    images, masks = _wall_folder(tmp_path)
    (robust,) = evaluate_folder(images, masks, predict=_dark)
    assert robust.score.jcd < 0.05 and robust.score.ambiguous
    (paper,) = evaluate_folder(images, masks, predict=_dark, choice=ChoiceParams(rule="largest"))
    assert paper.score.invalid and paper.score.jcd == 1.0
    out = tmp_path / "out"
    write_outputs([paper], out, images=images, masks=masks, predict=_dark)
    assert (out / "worst.png").exists()


@pytest.mark.parametrize("rule", ["robust", "largest"])
def test_hts_evaluate_takes_the_choice_rule(
    tmp_path: Path, rule: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hts.cli import main as cli

    class Dark:
        model_id = "dark-test"

        def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
            return _dark(image, pixel_size_um)

    monkeypatch.setattr("hts.segment.registry.get_segmenter", lambda name, *a: Dark())
    images, masks = _wall_folder(tmp_path)
    argv = ["evaluate", "--images", str(images), "--masks", str(masks), "--choose", rule]
    assert cli.main([*argv, "--out", str(tmp_path / rule)]) == 0
    text = capsys.readouterr().out
    assert f"{rule} choice" in text
    rows = (tmp_path / rule / "per_image.csv").read_text().splitlines()
    jcd = float(rows[1].split(",")[rows[0].split(",").index("jcd")])
    assert (jcd == 1.0) == (rule == "largest")


def test_silent_failures_are_wrong_results_that_qc_did_not_flag(tmp_path: Path) -> None:
    from hts.segment.postprocess import analyse_probability

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    # two dark disks; the reference is the left one
    image, reference = disk_image((100, 160), 15, seed=1)
    other = np.zeros(image.shape, np.uint8)
    cv2.circle(other, (125, 50), 15, 1, thickness=-1)
    image[other > 0] = image[reference].mean().astype(image.dtype)
    image = np.roll(image, -40, axis=1)
    reference = np.roll(reference, -40, axis=1)
    tifffile.imwrite(images / "a.tif", image, resolution=(5000, 5000), resolutionunit="CENTIMETER")
    cv2.imwrite(str(masks / "a.png"), reference.astype(np.uint8) * 255)

    def other_disk(im: np.ndarray, um: float) -> np.ndarray:
        """A confident outline on a real edge, of the wrong object: nothing for QC to see."""
        return ((im < 2300) & ~reference).astype(np.float32)

    def qc(probability: np.ndarray, im: np.ndarray, um: float) -> int:
        return analyse_probability(probability, pixel_size_um=um, image=im).flags.to_bits()

    (wrong,) = evaluate_folder(images, masks, predict=other_disk, qc=qc)
    assert wrong.score.jcd == 1.0 and wrong.qc_bits == 0 and wrong.silent_failure
    (nothing,) = evaluate_folder(
        images, masks, predict=lambda im, um: np.zeros(im.shape, np.float32), qc=qc
    )
    # no object is wrong too, but QC says so: not silent
    assert nothing.qc_bits > 0 and not nothing.silent_failure
    table = format_table([wrong, nothing])
    assert "silent" in table.splitlines()[0]
    assert table.splitlines()[2].split()[-2:] == ["0.500", "0.500"]
    # without QC the columns are left out rather than shown as zeros
    assert "silent" not in format_table(evaluate_folder(images, masks, predict=other_disk))
