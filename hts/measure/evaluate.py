"""Evaluating a segmenter against reference masks: the paper's Table 1, per image and per category.

I/O edge: reads a folder of images and a folder of masks (matched by file stem), runs a
segmenter, scores each image with :func:`hts.measure.metrics.compare_masks`, and writes a
per-image CSV and a montage of the worst overlays.
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from hts.io.readers import IMAGE_SUFFIXES, read_image
from hts.measure.choose import ChoiceParams, choose_spheroid
from hts.measure.metrics import SegmentationScore, compare_masks, summarise
from hts.measure.morphometrics import largest_object

__all__ = ["SILENT_JCD", "ImageScore", "evaluate_folder", "format_table", "overlay", "size_bin"]

log = logging.getLogger(__name__)

#: Target diameter bins (um) for the size split of the summary.
SIZE_BINS_UM = (200.0, 400.0, 600.0)

#: A segmentation this wrong (JCD at or above it) with no QC flag raised is a silent failure:
#: a wrong number a scientist has no reason to look at.
SILENT_JCD = 0.5


@dataclass(frozen=True)
class ImageScore:
    """One image's score with what is known about it."""

    file: str
    category: str
    size_bin: str
    target_diameter_um: float
    score: SegmentationScore
    seconds: float
    #: QC bits the run would store for this image (`hts.measure.qc.QC_BITS`); -1: not checked.
    qc_bits: int = -1

    @property
    def silent_failure(self) -> bool:
        """Wrong (JCD >= `SILENT_JCD`) and no QC flag raised; False when QC was not checked."""
        return self.qc_bits == 0 and self.score.jcd >= SILENT_JCD

    def row(self) -> dict[str, object]:
        return {
            "file": self.file, "category": self.category, "size_bin": self.size_bin,
            "target_diameter_um": round(self.target_diameter_um, 2), **asdict(self.score),
            "qc_bits": self.qc_bits, "silent_failure": self.silent_failure,
            "seconds": round(self.seconds, 4),
        }  # fmt: skip


def size_bin(diameter_um: float) -> str:
    """Label of a target diameter's bin, e.g. '200-400 um'."""
    if math.isnan(diameter_um):
        return "none"
    edges = (0.0, *SIZE_BINS_UM, math.inf)
    for lo, hi in itertools.pairwise(edges):
        if lo <= diameter_um < hi:
            return (
                f"<{hi:g} um"
                if lo == 0
                else f">={lo:g} um"
                if math.isinf(hi)
                else f"{lo:g}-{hi:g} um"
            )
    return "none"


def overlay(image: np.ndarray, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(Y, X, 3) uint8 BGR: the image (min-max) with the reference (green) and prediction (magenta)."""
    lo, hi = float(image.min()), float(image.max())
    grey = ((image.astype(np.float32) - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8)
    out = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    width = max(1, round(max(image.shape) / 400))
    for mask, colour in ((target, (0, 200, 0)), (pred, (255, 0, 255))):
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(out, contours, -1, colour, width)
    return out


def _categories(images: Path, categories: Path | None) -> dict[str, str]:
    path = categories or (images.parent / "index.csv")
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {Path(r["file"]).stem: r.get("category", "") for r in csv.DictReader(fh)}


def evaluate_folder(
    images: Path,
    masks: Path,
    *,
    predict: Callable[[np.ndarray, float], np.ndarray],
    pixel_size_um: float | None = None,
    categories: Path | None = None,
    progress: Callable[[int], None] | None = None,
    choice: ChoiceParams | None = None,
    qc: Callable[[np.ndarray, np.ndarray, float], int] | None = None,
) -> list[ImageScore]:
    """Score ``predict(image, pixel_size_um) -> probability`` on every image with a mask.

    ``qc(probability, image, pixel_size_um) -> QC bits``, when given, records the flags
    the run would raise, so the summary can count silent failures.

    Pixel size: ``pixel_size_um`` if given, else each image file's metadata. The predicted
    spheroid is chosen as ``choice`` says (default ``ChoiceParams()``, as `hts run`
    chooses it; ``rule="largest"`` for the paper's rule); see `compare_masks`.
    """
    import time

    mask_by_stem = {p.stem: p for p in masks.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    cats = _categories(images, categories)
    scores: list[ImageScore] = []
    for path in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        if path.stem not in mask_by_stem:
            log.warning("%s: no reference mask named %s.* in %s; skipped", path, path.stem, masks)
            continue
        data = read_image(path)
        um = pixel_size_um or data.header.pixel_size_um
        if um is None:
            raise ValueError(f"{path}: no pixel size in the file; pass --pixel-size-um")
        target = read_image(mask_by_stem[path.stem]).pixels > 0
        t0 = time.perf_counter()
        probability = predict(data.pixels, um)
        seconds = time.perf_counter() - t0
        score = compare_masks(
            probability >= 0.5, target, pixel_size_um=um, probability=probability, choice=choice
        )
        filled, _ = largest_object(target)
        diameter = (
            math.sqrt(4.0 * float(filled.sum()) * um * um / math.pi) if filled.any() else math.nan
        )
        bits = -1 if qc is None else int(qc(probability, data.pixels, um))
        scores.append(
            ImageScore(
                path.name,
                cats.get(path.stem, ""),
                size_bin(diameter),
                diameter,
                score,
                seconds,
                bits,
            )
        )
        if progress is not None:
            progress(1)
    return scores


def format_table(scores: list[ImageScore]) -> str:
    """The paper's Table 1 layout: mean (sd) per metric, ISF and ASF with binomial SE.

    Columns beyond the paper's: ASF over the images whose reference holds a single
    object, since a second predicted object is correct where two spheroids touch; where QC
    was checked, the fraction of images QC flagged and of silent failures (JCD at least
    `SILENT_JCD` with no flag).
    """
    checked = all(s.qc_bits >= 0 for s in scores)
    groups: dict[str, list[ImageScore]] = {"all": scores}
    for s in scores:
        if s.category:
            groups.setdefault(f"category {s.category}", []).append(s)
    for s in sorted(scores, key=lambda s: s.target_diameter_um):
        groups.setdefault(f"size {s.size_bin}", []).append(s)
    head = (
        f"{'set':<22s} {'n':>4s} {'JCD':>15s} {'RDD':>15s} {'RCD':>15s} {'dr um':>13s} "
        f"{'ISF':>13s} {'ASF':>13s} {'ASF 1-object':>17s}"
        + (f" {'flagged':>8s} {'silent':>7s}" if checked else "")
    )
    lines = [head, "-" * len(head)]
    for name, group in groups.items():
        if not group:
            continue
        m = summarise([s.score for s in group])
        sd = {k: (0.0 if math.isnan(v) else v) for k, v in m.items()}
        lines.append(
            f"{name:<22s} {len(group):>4d} "
            f"{m['jcd_mean']:>7.3f} ({sd['jcd_std']:.3f}) {m['rdd_mean']:>7.3f} ({sd['rdd_std']:.3f}) "
            f"{m['rcd_mean']:>7.3f} ({sd['rcd_std']:.3f}) "
            f"{m['radial_error_um_mean']:>6.1f} ({sd['radial_error_um_std']:.1f}) "
            f"{m['isf']:>6.3f} ({m['isf_se']:.3f}) {m['asf']:>6.3f} ({m['asf_se']:.3f}) "
            f"{m['asf_one']:>6.3f} ({m['asf_one_se']:.3f}) {int(m['n_one']):>3d}"
            + (
                f" {np.mean([s.qc_bits > 0 for s in group]):>8.3f}"
                f" {np.mean([s.silent_failure for s in group]):>7.3f}"
                if checked
                else ""
            )
        )
    lines.append(
        "ASF 1-object: ASF over the images whose reference holds one object (their count last)"
    )
    if checked:
        lines.append(
            f"flagged: share of images with a QC flag; silent: JCD >= {SILENT_JCD} and no flag"
        )
    return "\n".join(lines)


def write_outputs(
    scores: list[ImageScore],
    out: Path,
    *,
    images: Path,
    masks: Path,
    predict: Callable[[np.ndarray, float], np.ndarray],
    worst: int = 12,
    choice: ChoiceParams | None = None,
) -> None:
    """``out/per_image.csv``, ``out/summary.txt`` and ``out/worst.png`` (worst overlays by JCD).

    The overlays show the predicted spheroid chosen as ``choice`` says (as `evaluate_folder`).
    """
    out.mkdir(parents=True, exist_ok=True)
    with (out / "per_image.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(scores[0].row()))
        writer.writeheader()
        writer.writerows(s.row() for s in scores)
    (out / "summary.txt").write_text(format_table(scores) + "\n")
    tiles = []
    mask_by_stem = {p.stem: p for p in masks.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    for s in sorted(scores, key=lambda s: -s.score.jcd)[:worst]:
        data = read_image(images / s.file)
        um = data.header.pixel_size_um or 1.0
        probability = predict(data.pixels, um)
        pred = choose_spheroid(probability >= 0.5, probability, params=choice).spheroid.full()
        target = read_image(mask_by_stem[Path(s.file).stem]).pixels > 0
        tile = cv2.resize(
            overlay(data.pixels, pred, target),
            (400, round(400 * data.pixels.shape[0] / data.pixels.shape[1])),
        )
        cv2.putText(
            tile,
            f"JCD {s.score.jcd:.2f} {s.category}",
            (5, 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 255),
            1,
        )
        tiles.append(cv2.resize(tile, (400, 316)))
    if tiles:
        while len(tiles) % 4:
            tiles.append(np.zeros_like(tiles[0]))
        rows = [np.hstack(tiles[i : i + 4]) for i in range(0, len(tiles), 4)]
        cv2.imwrite(str(out / "worst.png"), np.vstack(rows))
