"""Writing a held-out set as files that ``hts evaluate`` reads.

Layout of ``out``::

    images/NAME.tif   grey uint16/uint8 or RGB uint8, pixel size in the TIFF resolution tags
    images/NAME.jpg   JPEG exports, pixel size in the JFIF density (dots per centimetre)
    masks/NAME.png    reference mask, 0/255 uint8
    index.csv         file, category, pixel_size_um, diameter_um, image_format, contrast

``index.csv`` is what ``hts evaluate`` looks for beside ``--images`` to split its table by
category. Every pixel size is ``1e4 / n`` um for an integer ``n`` (pixels per centimetre),
so that both TIFF and JFIF store it exactly.
"""

from __future__ import annotations

import csv
import logging
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from hts.heldout.render import HeldoutImage, image_rng, render_heldout
from hts.heldout.scenes import CATEGORIES

__all__ = ["INDEX_COLUMNS", "jfif_with_density", "write_heldout_set", "write_image"]

log = logging.getLogger(__name__)

INDEX_COLUMNS = ("file", "category", "pixel_size_um", "diameter_um", "image_format", "contrast")


def jfif_with_density(jpeg: bytes, pixels_per_cm: int) -> bytes:
    """The JPEG file with its JFIF header saying ``pixels_per_cm`` dots per centimetre.

    Parameters
    ----------
    jpeg : bytes
        A JPEG file that starts with a JFIF APP0 segment (as OpenCV writes them); one is
        inserted when it is missing.
    pixels_per_cm : int
        1-65535.

    Returns
    -------
    bytes
    """
    if not 0 < pixels_per_cm < 65536:
        raise ValueError(f"pixels_per_cm must fit in 16 bits, got {pixels_per_cm}")
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file (no start-of-image marker)")
    density = struct.pack(">BHH", 2, pixels_per_cm, pixels_per_cm)
    if jpeg[2:4] == b"\xff\xe0" and jpeg[6:11] == b"JFIF\x00":
        return jpeg[:13] + density + jpeg[18:]
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01" + density + b"\x00\x00"
    return jpeg[:2] + app0 + jpeg[2:]


def write_image(sample: HeldoutImage, images: Path, masks: Path, name: str) -> str:
    """Write one sample's image (format by its ``image_format``) and mask; return the image file name."""
    import tifffile

    per_cm = round(1e4 / sample.pixel_size_um)
    if sample.encoded is not None:
        file = f"{name}.jpg"
        (images / file).write_bytes(jfif_with_density(sample.encoded, per_cm))
    else:
        file = f"{name}.tif"
        tifffile.imwrite(
            images / file,
            sample.image,
            photometric="rgb" if sample.image.ndim == 3 else "minisblack",
            resolution=(float(per_cm), float(per_cm)),
            resolutionunit="CENTIMETER",
        )
    if not cv2.imwrite(str(masks / f"{name}.png"), sample.mask.astype(np.uint8) * 255):
        raise OSError(f"could not write {masks / name}.png")
    return file


def write_heldout_set(
    out: Path,
    n_per_category: int,
    *,
    seed: int,
    categories: Sequence[str] = CATEGORIES,
    shape: tuple[int, int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Render and write ``n_per_category`` images of each category; return ``out/index.csv``.

    Image ``j`` of a category is the same whatever other categories or counts are asked
    for (its generator is :func:`hts.heldout.render.image_rng`).

    Parameters
    ----------
    out : Path
        Output folder (created).
    n_per_category : int
    seed : int
    categories : sequence of str
        Subset of :data:`hts.heldout.scenes.CATEGORIES`.
    shape : (Y, X), optional
        Fix the image shape (small shapes make quick test sets); default drawn per image.
    progress : callable, optional
        Called with 1 after each image.
    """
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; choose from {CATEGORIES}")
    if n_per_category < 0:
        raise ValueError(f"n_per_category must be >= 0, got {n_per_category}")
    images, masks = out / "images", out / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    rows = []
    for category in categories:
        for j in range(n_per_category):
            sample = render_heldout(category, image_rng(seed, category, j), shape=shape)
            file = write_image(sample, images, masks, f"{category}_{seed}_{j:04d}")
            rows.append(
                [
                    file,
                    category,
                    f"{sample.pixel_size_um:.6f}",
                    f"{sample.diameter_um:.1f}",
                    sample.image_format,
                    sample.contrast,
                ]
            )
            if progress is not None:
                progress(1)
        log.info("%s: %d images written to %s", category, n_per_category, images)
    index = out / "index.csv"
    with index.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(INDEX_COLUMNS)
        writer.writerows(rows)
    return index
