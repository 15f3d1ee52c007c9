"""Helpers for testing code that uses hts: tiny image folders with known answers.

For realistic images use :mod:`hts.synth`; these are deliberately simple (a dark disk of
known radius on a bright, slightly noisy background) so that tests are fast and exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

__all__ = ["SlowSegmenter", "disk_image", "incucyte_name", "slow_classical", "write_disk_plate"]


def disk_image(
    shape: tuple[int, int],
    radius_px: float,
    *,
    seed: int = 0,
    dtype: type = np.uint16,
    background: float = 3000.0,
    contrast: float = 1500.0,
    noise: float = 40.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A dark disk centred in a bright noisy field: ``(image (Y, X) dtype, mask (Y, X) bool)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = (yy - (shape[0] - 1) / 2) ** 2 + (xx - (shape[1] - 1) / 2) ** 2 <= radius_px**2
    image = background - contrast * mask + rng.normal(0.0, noise, shape)
    if np.dtype(dtype) == np.uint8:
        image = image * (200.0 / background)
    info = np.iinfo(dtype)
    return np.clip(image, info.min, info.max).astype(dtype), mask


def incucyte_name(plate: str, well: str, field: int, when: datetime, suffix: str = ".tif") -> str:
    """An Incucyte-style file name, e.g. ``P1_B3_1_2026y03m02d_09h30m.tif``."""
    return f"{plate}_{well}_{field}_{when:%Y}y{when:%m}m{when:%d}d_{when:%H}h{when:%M}m{suffix}"


def write_disk_plate(
    folder: Path | str,
    *,
    wells: Iterable[str] = ("B2", "B3", "C2"),
    days: Iterable[int] = (0, 1, 2),
    plate: str = "TEST01",
    shape: tuple[int, int] = (96, 128),
    pixel_size_um: float = 2.0,
    start: datetime = datetime(2026, 3, 2, 9, 30),
    radius_px: float = 15.0,
    growth_px_per_day: float = 2.0,
    plate_map: bool = True,
) -> dict[tuple[str, int], Path]:
    """Write 16-bit TIFFs of growing disks in Incucyte naming, plus ``plate_map.csv``.

    Returns ``{(well, day): path}``. The plate map (written beside ``folder``, not inside
    it, so ingest does not see it) treats every well at ``start``.
    """
    import tifffile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[tuple[str, int], Path] = {}
    wells = list(wells)
    for w_index, well in enumerate(wells):
        for day in days:
            when = start + timedelta(days=day)
            image, _ = disk_image(
                shape, radius_px + growth_px_per_day * day, seed=1000 * w_index + day
            )
            path = folder / incucyte_name(plate, well, 1, when)
            tifffile.imwrite(
                path,
                image,
                resolution=(1e4 / pixel_size_um, 1e4 / pixel_size_um),
                resolutionunit="CENTIMETER",
                datetime=when,
            )
            out[(well, day)] = path
    if plate_map:
        lines = ["plate,well,cell_line,agent,dose,dose_unit,arm,replicate,treated_at"]
        for i, well in enumerate(wells):
            dose = 0.0 if i % 2 == 0 else 5.0
            arm = "untreated" if dose == 0 else "RT 5 Gy"
            lines.append(f"{plate},{well},FaDu,X-ray,{dose},Gy,{arm},{i + 1},{start.isoformat()}")
        (folder.parent / f"{folder.name}_plate_map.csv").write_text("\n".join(lines) + "\n")
    return out


class SlowSegmenter:
    """The ``classical`` segmenter made slow on purpose (``HTS_TEST_DELAY_S`` seconds per
    image, default 0.3), so tests can interrupt runs in flight. Results equal ``classical``'s."""

    model_id = "slow-classical-1"

    def __init__(self) -> None:
        import os

        self.delay_s = float(os.environ.get("HTS_TEST_DELAY_S", "0.3"))

    def predict(self, image: np.ndarray, *, pixel_size_um: float) -> np.ndarray:
        import time

        from hts.segment.classical import segment_classical

        time.sleep(self.delay_s)
        return segment_classical(image, pixel_size_um=pixel_size_um)


def slow_classical(engine: str | None = None) -> SlowSegmenter:
    """Factory of a test plugin: declare it in the ``hts.segmenters`` entry-point group."""
    return SlowSegmenter()
