"""Training data: synthetic (domain-randomised) or a folder of images with reference masks.

Everything is stored preprocessed as the network sees it (the paper's min-max to 8 bit,
half resolution), with one group id per spheroid so that splits never put images of one
spheroid on both sides.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hts.io.readers import read_image
from hts.segment import minmax_to_uint8, resize

__all__ = ["Dataset", "from_folder", "preprocess_pair", "synthetic", "write_image_set"]

log = logging.getLogger(__name__)


@dataclass
class Dataset:
    """Preprocessed images and masks (lists: sizes may differ) with per-sample metadata."""

    images: list[np.ndarray]  # (Y, X) uint8 at network resolution
    masks: list[np.ndarray]  # (Y, X) uint8 0/1
    groups: list[str]  # spheroid id: splits never cut a group
    categories: list[str]  # "clean" / "debris" / "" when unknown
    pixel_size_um: list[float]  # at network resolution

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> Dataset:
        pick = [int(i) for i in index]
        return Dataset(
            [self.images[i] for i in pick], [self.masks[i] for i in pick],
            [self.groups[i] for i in pick], [self.categories[i] for i in pick],
            [self.pixel_size_um[i] for i in pick],
        )  # fmt: skip

    def concat(self, other: Dataset) -> Dataset:
        """This set followed by ``other``; refuses spheroid ids found in both."""
        shared = set(self.groups) & set(other.groups)
        if shared:
            raise ValueError(
                f"{len(shared)} spheroid ids are in both sets (e.g. {sorted(shared)[0]!r}): "
                "the same synthetic seed twice?"
            )
        return Dataset(
            self.images + other.images, self.masks + other.masks, self.groups + other.groups,
            self.categories + other.categories, self.pixel_size_um + other.pixel_size_um,
        )  # fmt: skip

    def split(self, *, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
        """(train, validation), split by group (spheroid), never by image."""
        names = sorted(set(self.groups))
        rng = np.random.default_rng(seed)
        rng.shuffle(names)
        n_val = max(1, round(len(names) * val_fraction))
        val_groups = set(names[:n_val])
        is_val = np.array([g in val_groups for g in self.groups])
        return self.subset(np.flatnonzero(~is_val)), self.subset(np.flatnonzero(is_val))

    def save(self, path: Path) -> None:
        """One .npz: images and masks concatenated flat (uint8) with their shapes."""
        shapes = np.array([im.shape for im in self.images], dtype=np.int64).reshape(-1, 2)
        np.savez(
            path, images=np.concatenate([im.ravel() for im in self.images]),
            masks=np.concatenate([m.ravel() for m in self.masks]), shapes=shapes,
            groups=np.array(self.groups), categories=np.array(self.categories),
            pixel_size_um=np.array(self.pixel_size_um),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> Dataset:
        z = np.load(path)
        ends = np.cumsum([int(h) * int(w) for h, w in z["shapes"]])
        starts = np.concatenate([[0], ends[:-1]])
        images, masks = z["images"], z["masks"]
        return cls(
            [images[a:b].reshape(s) for a, b, s in zip(starts, ends, z["shapes"], strict=True)],
            [masks[a:b].reshape(s) for a, b, s in zip(starts, ends, z["shapes"], strict=True)],
            [str(g) for g in z["groups"]], [str(c) for c in z["categories"]],
            [float(p) for p in z["pixel_size_um"]],
        )  # fmt: skip


def preprocess_pair(
    image: np.ndarray, mask: np.ndarray, *, scale: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Image -> min-max uint8 at ``scale``; mask -> 0/1 uint8 at the same grid (area vote)."""
    small = resize(minmax_to_uint8(image), scale=scale)
    m = cv2.resize(
        mask.astype(np.float32), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA
    )
    return small, (m >= 0.5).astype(np.uint8)


def _synthetic_one(
    args: tuple[int, int, float, dict[str, Any]],
) -> tuple[np.ndarray, np.ndarray, str, float]:
    from hts.synth.training import training_sample

    seed, index, scale, options = args
    sample = training_sample(seed, index, **options)
    image, mask = preprocess_pair(sample.image, sample.mask, scale=scale)
    return image, mask, sample.category, sample.pixel_size_um / scale


def synthetic(
    n: int,
    *,
    seed: int,
    scale: float = 0.5,
    workers: int = 2,
    well_edge_probability: float = 0.2,
    debris_fraction: float = 0.5,
    cellular_probability: float = 0.0,
    burn_in_probability: float = 0.0,
    whole_well_probability: float = 0.0,
    translucent_probability: float = 0.0,
    light_border_probability: float = 0.0,
    cluster_lobe_probability: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> Dataset:
    """``n`` domain-randomised samples of set ``seed``, preprocessed; each its own spheroid.

    ``well_edge_probability``, ``debris_fraction``, ``cellular_probability``,
    ``burn_in_probability``, ``whole_well_probability``, ``translucent_probability``,
    ``light_border_probability``, ``cluster_lobe_probability``: see
    `hts.synth.training.training_sample`
    (the defaults are that function's; sample ``i`` of a seed is the same image only under
    the same values).
    """
    options = {
        "well_edge_probability": well_edge_probability,
        "debris_fraction": debris_fraction,
        "cellular_probability": cellular_probability,
        "burn_in_probability": burn_in_probability,
        "whole_well_probability": whole_well_probability,
        "translucent_probability": translucent_probability,
        "light_border_probability": light_border_probability,
        "cluster_lobe_probability": cluster_lobe_probability,
    }
    data = Dataset([], [], [], [], [])
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for i, (image, mask, category, um) in enumerate(
            pool.map(
                _synthetic_one,
                [(seed, i, scale, options) for i in range(n)],
                chunksize=8,
            )
        ):
            data.images.append(image)
            data.masks.append(mask)
            data.groups.append(f"syn{seed}-{i}")
            data.categories.append(category)
            data.pixel_size_um.append(um)
            if progress is not None:
                progress(1)
    return data


def from_folder(
    images: Path,
    masks: Path,
    *,
    pixel_size_um: float,
    group_pattern: str | None = None,
    categories: Path | None = None,
    scale: float = 0.5,
) -> Dataset:
    """A lab's images with reference masks (same file stem; any non-zero mask pixel is spheroid).

    ``group_pattern``: a regex whose first group names the spheroid in the file name (e.g.
    the well), so images of one spheroid over time stay on one side of a split; without it
    every image is its own group. ``categories``: optional CSV ``file,category``.
    """
    mask_by_stem = {p.stem: p for p in Path(masks).iterdir() if p.is_file()}
    cats: dict[str, str] = {}
    if categories is not None:
        with Path(categories).open(newline="") as fh:
            cats = {Path(r["file"]).stem: r["category"] for r in csv.DictReader(fh)}
    pattern = re.compile(group_pattern) if group_pattern else None
    data = Dataset([], [], [], [], [])
    for path in sorted(p for p in Path(images).iterdir() if p.is_file()):
        if path.stem not in mask_by_stem:
            log.warning("%s: no mask with the same name in %s; skipped", path, masks)
            continue
        image = read_image(path).pixels
        mask = read_image(mask_by_stem[path.stem]).pixels > 0
        if mask.shape != image.shape:
            log.warning(
                "%s: mask shape %s differs from image %s; skipped", path, mask.shape, image.shape
            )
            continue
        small, small_mask = preprocess_pair(image, mask, scale=scale)
        match = pattern.search(path.name) if pattern else None
        data.images.append(small)
        data.masks.append(small_mask)
        data.groups.append(match.group(1) if match else path.stem)
        data.categories.append(cats.get(path.stem, ""))
        data.pixel_size_um.append(pixel_size_um / scale)
    if not data.images:
        raise ValueError(f"{images}: no image with a matching mask in {masks}")
    return data


def write_image_set(
    out: Path, n: int, *, seed: int, progress: Callable[[int], None] | None = None
) -> Path:
    """Write ``n`` randomised samples at full resolution as files, for ``hts evaluate``.

    ``out/images/*.tif`` (with the pixel size in the TIFF), ``out/masks/*.png``,
    ``out/index.csv`` (file, category, pixel_size_um, diameter_um, dose_gy, day).
    """
    import tifffile

    from hts.synth.training import training_sample

    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        s = training_sample(seed, i)
        name = f"sample_{seed}_{i:05d}"
        res = 1e4 / s.pixel_size_um
        tifffile.imwrite(
            out / "images" / f"{name}.tif",
            s.image,
            resolution=(res, res),
            resolutionunit="CENTIMETER",
        )
        cv2.imwrite(str(out / "masks" / f"{name}.png"), s.mask.astype(np.uint8) * 255)
        rows.append(
            [
                f"{name}.tif",
                s.category,
                f"{s.pixel_size_um:.4f}",
                f"{s.diameter_um:.1f}",
                s.dose_gy,
                s.day,
            ]
        )
        if progress is not None:
            progress(1)
    with (out / "index.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "category", "pixel_size_um", "diameter_um", "dose_gy", "day"])
        writer.writerows(rows)
    return out
