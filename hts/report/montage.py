"""A montage of QC-flagged images with their stored contours drawn over the pixels.

The results store keeps each image's contour (``contour``: image pixels) and the plate
store the pixels, so an overlay needs both: :func:`flagged_montage` reads the images of
flagged slots from the plate the results were made from.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from hts.measure.contour import decode_contour
from hts.measure.qc import QCFlags
from hts.results.schema import Status

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Montage", "flagged_montage", "overlay_tile", "tile_grid"]

log = logging.getLogger(__name__)

_RED = (0, 0, 255)  # BGR


@dataclass(frozen=True)
class Montage:
    """A montage image and what it shows.

    Attributes
    ----------
    image : (Y, X, 3) uint8
        BGR tiles (OpenCV order; :meth:`png` encodes it).
    labels : tuple of str
        One per tile: well and day (line 1), flags (line 2).
    n_flagged : int
        Flagged images in the results (the montage may show fewer).
    """

    image: np.ndarray
    labels: tuple[str, ...]
    n_flagged: int

    def png(self) -> bytes:
        ok, data = cv2.imencode(".png", self.image)
        if not ok:
            raise ValueError("could not encode the montage as PNG")
        return bytes(data.tobytes())


def overlay_tile(
    image: np.ndarray, contour_xy: np.ndarray, label: str, *, width_px: int = 240
) -> np.ndarray:
    """One tile: the image rescaled to 8 bit, its contour in red, a caption below.

    Parameters
    ----------
    image : (Y, X) array, any real dtype
    contour_xy : (N, 2) int
        Contour vertices (x, y) in pixels of ``image``; empty: none drawn.
    label : str
    width_px : int
        Tile width; the height follows the image's aspect ratio plus a caption strip.

    Returns
    -------
    (H, width_px, 3) uint8
        BGR.
    """
    work = np.asarray(image, dtype=np.float32)
    lo, hi = (float(v) for v in np.percentile(work, [0.5, 99.5]))
    scaled = np.clip((work - lo) / (hi - lo if hi > lo else 1.0) * 255.0, 0, 255).astype(np.uint8)
    scale = width_px / scaled.shape[1]
    height = max(1, round(scaled.shape[0] * scale))
    tile = cv2.cvtColor(
        cv2.resize(scaled, (width_px, height), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR
    )
    if len(contour_xy):
        points = np.round(np.asarray(contour_xy, dtype=np.float64) * scale).astype(np.int32)
        cv2.polylines(tile, [points.reshape(-1, 1, 2)], isClosed=True, color=_RED, thickness=2)
    lines = _wrap(label, max(8, width_px // 6))  # about 6 px per character at this size
    caption = np.full((6 + 16 * len(lines), width_px, 3), 255, dtype=np.uint8)
    for k, line in enumerate(lines):
        cv2.putText(
            caption, line, (4, 15 + 16 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1,
            cv2.LINE_AA,
        )  # fmt: skip
    return np.vstack([tile, caption])


def _wrap(label: str, width: int) -> list[str]:
    """A caption's lines: its own lines, each cut at spaces to ``width`` characters."""
    out: list[str] = []
    for part in label.splitlines() or [""]:
        line = ""
        for word in part.split(" "):
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out


def _day_label(time_h: float, timepoint: int) -> str:
    """``"day 2.5"``; the time point's index where its time since treatment is unknown."""
    return f"time point {timepoint}" if math.isnan(time_h) else f"day {time_h / 24.0:.1f}"


def tile_grid(tiles: list[np.ndarray], *, columns: int = 6, gap_px: int = 4) -> np.ndarray:
    """Tiles (each ``(H_i, W, 3)`` uint8, same W) in a grid on white, row-major."""
    if not tiles:
        return np.full((1, 1, 3), 255, dtype=np.uint8)
    width = tiles[0].shape[1]
    height = max(t.shape[0] for t in tiles)
    columns = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    out = np.full(
        (rows * (height + gap_px) + gap_px, columns * (width + gap_px) + gap_px, 3), 255, np.uint8
    )
    for k, tile in enumerate(tiles):
        y = gap_px + (k // columns) * (height + gap_px)
        x = gap_px + (k % columns) * (width + gap_px)
        out[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return out


def flagged_montage(
    results: xr.Dataset,
    plate_path: Path | str,
    *,
    max_images: int = 24,
    columns: int = 6,
    width_px: int = 240,
) -> Montage:
    """Contour overlays of the first ``max_images`` QC-flagged images (plate, well, time order).

    Parameters
    ----------
    results : xarray.Dataset
        A results store (``hts.open_results``, lazy or loaded) with ``contour``.
    plate_path : Path or str
        The OME-Zarr plate the results were made from.
    max_images, columns, width_px : int

    Returns
    -------
    Montage
    """
    from hts.io.omezarr import PlateStore
    from hts.wells import WellId

    status = results["status"].values
    bits = results["qc_flags"].values.astype(np.int64)
    flagged = np.argwhere((status == Status.OK) & (bits != 0))
    plate = PlateStore(plate_path)
    tiles: list[np.ndarray] = []
    labels: list[str] = []
    for w, t in flagged[:max_images]:
        well_name = str(results["well_name"].values[w])
        field = int(results["field"].values[w])
        image = plate.read_image(WellId.parse(well_name), field, int(t))
        flags = QCFlags.from_bits(int(bits[w, t]))
        names = ", ".join(n for n in QCFlags.__dataclass_fields__ if getattr(flags, n))
        when = _day_label(float(results["time_h"].values[t]), int(t))
        label = f"{results['well'].values[w]} {when}\n{names}"
        # one element: a lazy store reads one chunk, not every contour
        contour = decode_contour(str(results["contour"][w, t].values))
        tiles.append(overlay_tile(image, contour, label, width_px=width_px))
        labels.append(label)
    log.info("montage: %d of %d flagged images", len(tiles), len(flagged))
    return Montage(tile_grid(tiles, columns=columns), tuple(labels), len(flagged))
