"""Training data from a lab's folder of images and masks, and from the synthetic generator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from hts.testing import disk_image
from training.data import Dataset, from_folder, synthetic


def test_folder_with_masks_is_preprocessed_and_grouped(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for well in ("B2", "B3"):
        for day in range(3):
            image, mask = disk_image((100, 120), 20 + day, seed=day)
            tifffile.imwrite(images / f"P_{well}_day{day}.tif", image)
            cv2.imwrite(str(masks / f"P_{well}_day{day}.png"), mask.astype(np.uint8) * 255)
    tifffile.imwrite(images / "orphan.tif", np.zeros((100, 120), np.uint16))  # no mask: skipped
    data = from_folder(images, masks, pixel_size_um=1.5, group_pattern=r"_([A-P]\d+)_")
    assert len(data) == 6
    assert sorted(set(data.groups)) == ["B2", "B3"]
    assert data.images[0].shape == (50, 60) and data.images[0].dtype == np.uint8
    assert int(data.images[0].max()) - int(data.images[0].min()) > 200  # min-max, then resize
    assert data.pixel_size_um[0] == pytest.approx(3.0)  # at half resolution
    train, val = data.split(val_fraction=0.5, seed=0)
    assert set(train.groups).isdisjoint(val.groups)
    with pytest.raises(ValueError, match="no image with a matching mask"):
        from_folder(images, tmp_path, pixel_size_um=1.0)


def test_synthetic_set_saves_and_loads(tmp_path: Path) -> None:
    data = synthetic(3, seed=7, workers=1)
    assert len(data) == 3 and len(set(data.groups)) == 3
    assert all(m.max() == 1 for m in data.masks)
    data.save(tmp_path / "d.npz")
    again = Dataset.load(tmp_path / "d.npz")
    np.testing.assert_array_equal(again.images[2], data.images[2])
    assert again.categories == data.categories


def test_mixed_shapes_round_trip_as_uint8(tmp_path: Path) -> None:
    data = Dataset(
        [np.full((4, 5), 7, np.uint8), np.full((6, 3), 9, np.uint8)],
        [np.ones((4, 5), np.uint8), np.zeros((6, 3), np.uint8)],
        ["a", "b"], ["clean", "debris"], [1.0, 2.0],
    )  # fmt: skip
    data.save(tmp_path / "m.npz")
    again = Dataset.load(tmp_path / "m.npz")
    assert [im.shape for im in again.images] == [(4, 5), (6, 3)]
    assert all(im.dtype == np.uint8 for im in again.images + again.masks)
    assert int(again.images[1][0, 0]) == 9 and again.groups == ["a", "b"]


def test_sets_concatenate_and_refuse_a_spheroid_twice() -> None:
    a = Dataset([np.zeros((4, 4), np.uint8)], [np.zeros((4, 4), np.uint8)], ["a"], ["clean"], [1.0])
    b = Dataset([np.ones((3, 3), np.uint8)], [np.ones((3, 3), np.uint8)], ["b"], ["debris"], [2.0])
    both = a.concat(b)
    assert both.groups == ["a", "b"] and both.categories == ["clean", "debris"]
    assert [im.shape for im in both.images] == [(4, 4), (3, 3)] and len(a) == 1
    with pytest.raises(ValueError, match="in both sets"):
        both.concat(a)


def test_make_data_writes_the_asked_mix(tmp_path: Path) -> None:
    from training.make_data import main

    out = tmp_path / "sets" / "debris.npz"
    assert (
        main([str(out), "--n", "3", "--seed", "8", "--debris-fraction", "1", "--workers", "1"]) == 0
    )
    data = Dataset.load(out)
    assert data.groups == ["syn8-0", "syn8-1", "syn8-2"]
    assert data.categories == ["debris"] * 3
    assert synthetic(3, seed=8, workers=1, debris_fraction=0.0).categories == ["clean"] * 3
