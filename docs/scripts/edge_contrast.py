"""Where does a set's reference outline lie, in the image's own contrast? (model card)

For each image with a reference mask: the reference spheroid (largest object, filled), its
equivalent radius R, the image smoothed at R / 40, the background (median in a ring 0.3-0.6 R
outside the outline) and the core (median deeper than 0.5 R inside). In bands just inside
the outline (0-3 %, 3-8 %, 8-15 %, 15-25 % of R deep) it reports how much of the core's
darkening the band holds, (background - band) / (background - core): 1 is as dark as the
core, 0 as light as the well. Medians per category (``index.csv``'s ``category`` where
there is one). Two sets whose references end at different fractions were drawn to
different conventions; no outline rule serves both.

    python docs/scripts/edge_contrast.py ../shared/real-dev heldout2026 testset
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from hts.io.readers import IMAGE_SUFFIXES, read_image
from hts.measure.morphometrics import largest_object
from hts.segment.preprocess import to_gray

BANDS = ((0.0, 0.03), (0.03, 0.08), (0.08, 0.15), (0.15, 0.25))


def band_fractions(image: np.ndarray, reference: np.ndarray) -> list[float]:
    """Darkening of each band of `BANDS` inside the reference outline, as a fraction of the
    core's (nan for a band without pixels)."""
    gray = to_gray(image).astype(np.float32)
    mask = largest_object(reference)[0].astype(np.uint8)
    radius = float(np.sqrt(mask.sum() / np.pi))
    smooth = cv2.GaussianBlur(gray, (0, 0), max(1.0, radius / 40.0))
    outside = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 5)
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    background = float(np.median(smooth[(outside > 0.3 * radius) & (outside < 0.6 * radius)]))
    core = float(np.median(smooth[inside > 0.5 * radius]))
    out = []
    for lo, hi in BANDS:
        band = (inside > lo * radius) & (inside <= hi * radius)
        level = float(np.median(smooth[band])) if band.any() else float("nan")
        out.append((background - level) / (background - core))
    return out


def _categories(root: Path) -> dict[str, str]:
    index = root / "index.csv"
    if not index.is_file():
        return {}
    with index.open(newline="") as fh:
        return {Path(r["file"]).stem: r["category"] for r in csv.DictReader(fh)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path, help="folders with images/ and masks/")
    args = parser.parse_args()
    head = " | ".join(f"{lo:.0%}-{hi:.0%} of R" for lo, hi in BANDS)
    print(f"| set | category | n | {head} |")
    print("|---|---|---:|" + "---:|" * len(BANDS))
    for root in args.sets:
        masks = {p.stem: p for p in (root / "masks").iterdir()}
        categories = _categories(root)
        by_category: dict[str, list[list[float]]] = {}
        for path in sorted((root / "images").iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.stem not in masks:
                continue
            reference = read_image(masks[path.stem]).pixels > 0
            fractions = band_fractions(read_image(path).pixels, reference)
            by_category.setdefault(categories.get(path.stem, "all"), []).append(fractions)
        for category, rows in by_category.items():
            medians = np.nanmedian(np.array(rows), axis=0)
            cells = " | ".join("-" if np.isnan(m) else f"{m:.2f}" for m in medians)
            print(f"| {root.name} | {category} | {len(rows)} | {cells} |")


if __name__ == "__main__":
    main()
