"""Write a synthetic plate to disk: images, masks, plate map and ground truth (I/O edge).

Layout under ``out_dir``::

    images/{plate}_{well}_{field}_{YYYY}y{MM}m{DD}d_{HH}h{MM}m.tif   uint16, pixel size in tags
    masks/<same stem>.png                                           uint8 0/255
    plate_map.csv     one row per well: treatment
    truth.csv         one row per image: true size of the spheroid
    spheroids.csv     one row per well: fate and true relapse time
    README.txt
"""

from __future__ import annotations

import csv
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import tifffile

from hts.synth.growth import (
    Scenario,
    SpheroidHistory,
    imaging_times_h,
    simulate_plate,
)
from hts.synth.scene import ImagingConditions, synthesize_image
from hts.wells import WellId

__all__ = [
    "DEBRIS_CATEGORY_MIN",
    "SyntheticPlate",
    "image_name",
    "layout_wells",
    "well_label",
    "write_synthetic_plate",
]

logger = logging.getLogger(__name__)

#: Debris amount (0-1) from which an image is put in the ``"debris"`` category.
DEBRIS_CATEGORY_MIN = 0.15

# Inner wells (edge row and column left empty, as labs do) and well diameters per format.
_FORMATS = {96: ((8, 12), 6400.0), 384: ((16, 24), 3300.0)}

_PLATE_MAP_COLUMNS = (
    "plate",
    "well",
    "cell_line",
    "agent",
    "dose",
    "dose_unit",
    "arm",
    "replicate",
    "treated_at",
)
_TRUTH_COLUMNS = (
    "plate",
    "well",
    "field",
    "day",
    "time_h",
    "acquired_at",
    "image",
    "mask",
    "diameter_um",
    "area_um2",
    "volume_um3",
    "category",
    "n_spheroids",
)
_SPHEROID_COLUMNS = (
    "plate",
    "well",
    "arm",
    "dose",
    "fate",
    "relapse_time_h",
    "diameter_at_treatment_um",
)

_README = """\
Synthetic brightfield plate {plate} written by hts.synth (seed {seed}): {n_wells} wells, \
one spheroid per well, {n_fields} field(s) per well, {n_times} scans every {interval_h:g} h \
from {start} (time 0 = treatment), {n_images} images of {height} x {width} pixels at \
{pixel_size_um:g} um per pixel. images/ holds 16-bit TIFFs named \
{{plate}}_{{well}}_{{field}}_{{YYYY}}y{{MM}}m{{DD}}d_{{HH}}h{{MM}}m.tif with the pixel size in \
the resolution tags and the scan time in the DateTime tag; masks/ holds the matching \
ground-truth masks (PNG, 255 = spheroid body, never debris; for a detached spheroid the \
remnant). plate_map.csv gives each well's treatment, truth.csv the true size of the largest \
spheroid in each image (diameter = equivalent-circle diameter of the mask, volume = pi d^3 / \
6) with its category (clean or debris) and the number of spheroids, spheroids.csv each \
spheroid's fate (untreated, control, relapse) and true relapse time (first scan at which the \
volume exceeds {relapse_factor:g} x the volume at treatment). True SCD50: {scd50:g} Gy.
"""


@dataclass(frozen=True)
class SyntheticPlate:
    """Paths and ground truth of a written synthetic plate.

    Attributes
    ----------
    out_dir, images_dir, masks_dir : Path
    plate_map_csv, truth_csv, spheroids_csv, readme : Path
    plate : str
    wells : tuple of WellId
        In layout order.
    times_h : tuple of float
        Scan times, hours after treatment.
    fields : int
    pixel_size_um : float
    scenario : Scenario
        Holds ``true_scd50_gy`` and the other model parameters.
    histories : tuple of SpheroidHistory
        One per well, same order as ``wells``.
    n_images : int
    """

    out_dir: Path
    images_dir: Path
    masks_dir: Path
    plate_map_csv: Path
    truth_csv: Path
    spheroids_csv: Path
    readme: Path
    plate: str
    wells: tuple[WellId, ...]
    times_h: tuple[float, ...]
    fields: int
    pixel_size_um: float
    scenario: Scenario
    histories: tuple[SpheroidHistory, ...]
    n_images: int


def well_label(well: WellId) -> str:
    """Well name without zero padding, as in Incucyte file names: ``'B3'``."""
    return f"{well.row}{well.column}"


def _plate_format(n_wells: int) -> int:
    for size, ((rows, cols), _) in sorted(_FORMATS.items()):
        if n_wells <= (rows - 2) * (cols - 2):
            return size
    raise ValueError(f"{n_wells} wells do not fit in the inner wells of a 384-well plate")


def layout_wells(n_wells: int) -> tuple[WellId, ...]:
    """Wells row-major from B2, skipping edge wells; 96-well plate up to 60 wells, else 384.

    Parameters
    ----------
    n_wells : int
        1 to 308.

    Returns
    -------
    tuple of WellId
    """
    if n_wells < 1:
        raise ValueError(f"need at least one well, got {n_wells}")
    (rows, cols), _ = _FORMATS[_plate_format(n_wells)]
    inner = [WellId(r, c) for r in range(1, rows - 1) for c in range(2, cols)]
    return tuple(inner[:n_wells])


def image_name(plate: str, well: WellId, field: int, acquired_at: datetime) -> str:
    """Incucyte-style image file name, e.g. ``SYN01_B3_1_2026y03m02d_09h30m.tif``."""
    if "_" in plate or not plate:
        raise ValueError(f"plate name must be non-empty without '_', got {plate!r}")
    stamp = acquired_at.strftime("%Yy%mm%dd_%Hh%Mm")
    return f"{plate}_{well_label(well)}_{field}_{stamp}.tif"


def _largest_object_px(mask: np.ndarray) -> tuple[int, int]:
    """(number of 8-connected objects, pixel area of the largest) of a boolean mask."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0, 0
    return n - 1, int(stats[1:, cv2.CC_STAT_AREA].max())


def _fmt(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.6g}"


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_synthetic_plate(
    out_dir: str | Path,
    *,
    wells: int = 8,
    days: int = 10,
    seed: int = 0,
    fields: int = 1,
    plate: str = "SYN01",
    shape: tuple[int, int] = (1030, 1300),
    pixel_size_um: float = 1.6,
    start: str = "2026-03-02T09:30",
    interval_h: float = 24.0,
    scenario: Scenario | None = None,
    imaging: ImagingConditions | None = None,
    progress: Callable[[int], object] | None = None,
) -> SyntheticPlate:
    """Simulate a treated plate and write its images, masks and ground truth.

    Every image is drawn from generators keyed by ``(seed, well, field, timepoint)``, so the
    same arguments give byte-identical files and any image can be regenerated alone with
    :func:`hts.synth.synthesize_image`.

    Parameters
    ----------
    out_dir : str or Path
        Created if missing; existing files of the same names are overwritten.
    wells : int
        Number of wells (one spheroid each), laid out by :func:`layout_wells`.
    days : int
        Number of scans, the first at treatment (time 0); at least 2.
    seed : int
        Non-negative seed.
    fields : int
        Images per well and scan.
    plate : str
        Plate name used in file names (no ``'_'``).
    shape : (int, int)
        Image shape (Y, X), pixels.
    pixel_size_um : float
        Micrometres per pixel, written to the TIFF resolution tags.
    start : str
        ISO 8601 time of treatment and of the first scan.
    interval_h : float
        Hours between scans.
    scenario : Scenario, optional
        Biology of the plate; defaults to ``Scenario()``.
    imaging : ImagingConditions, optional
        Artefact rates; by default with the well diameter of the plate format.
    progress : callable, optional
        Called with the number of images just finished (1 per image).

    Returns
    -------
    SyntheticPlate
    """
    if fields < 1 or days < 2 or pixel_size_um <= 0:
        raise ValueError("need fields >= 1, days >= 2 and pixel_size_um > 0")
    scenario = Scenario() if scenario is None else scenario
    well_ids = layout_wells(wells)
    if imaging is None:
        imaging = replace(ImagingConditions(), well_diameter_um=_FORMATS[_plate_format(wells)][1])
    treated_at = datetime.fromisoformat(start)
    times_h = imaging_times_h(days, interval_h=interval_h)
    histories = simulate_plate(well_ids, times_h=times_h, scenario=scenario, seed=seed)

    out = Path(out_dir)
    images_dir, masks_dir = out / "images", out / "masks"
    images_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    resolution = 1e4 / pixel_size_um  # pixels per centimetre
    pixel_area_um2 = pixel_size_um**2
    logger.info(
        "writing synthetic plate %s: %d wells x %d fields x %d scans to %s",
        plate,
        len(well_ids),
        fields,
        days,
        out,
    )
    began = time.perf_counter()
    truth: list[dict[str, object]] = []
    for k, t_h in enumerate(times_h):
        acquired_at = treated_at + timedelta(hours=float(t_h))
        for history in histories:
            for field in range(1, fields + 1):
                image, mask, _ = synthesize_image(
                    history,
                    k,
                    seed=seed,
                    field=field,
                    shape=shape,
                    pixel_size_um=pixel_size_um,
                    imaging=imaging,
                )
                name = image_name(plate, history.well, field, acquired_at)
                tifffile.imwrite(
                    images_dir / name,
                    image,
                    photometric="minisblack",
                    resolution=(resolution, resolution),
                    resolutionunit="CENTIMETER",
                    datetime=acquired_at,
                    software="hts.synth",
                    metadata=None,
                )
                mask_name = Path(name).with_suffix(".png").name
                cv2.imwrite(str(masks_dir / mask_name), mask.astype(np.uint8) * 255)
                n_objects, area_px = _largest_object_px(mask)
                area_um2 = area_px * pixel_area_um2
                diameter_um = math.sqrt(4.0 * area_um2 / math.pi)
                debris = float(history.debris[k])
                truth.append(
                    {
                        "plate": plate,
                        "well": well_label(history.well),
                        "field": field,
                        "day": _fmt(float(t_h) / 24.0),
                        "time_h": _fmt(float(t_h)),
                        "acquired_at": acquired_at.isoformat(),
                        "image": f"images/{name}",
                        "mask": f"masks/{mask_name}",
                        "diameter_um": _fmt(diameter_um),
                        "area_um2": _fmt(area_um2),
                        "volume_um3": _fmt(math.pi * diameter_um**3 / 6.0),
                        "category": "debris" if debris >= DEBRIS_CATEGORY_MIN else "clean",
                        "n_spheroids": n_objects,
                    }
                )
                if progress is not None:
                    progress(1)

    plate_map = []
    replicates: dict[str, int] = {}
    for history in histories:
        replicates[history.arm] = replicates.get(history.arm, 0) + 1
        plate_map.append(
            {
                "plate": plate,
                "well": well_label(history.well),
                "cell_line": scenario.cell_line,
                "agent": "none" if history.dose_gy == 0 else scenario.agent,
                "dose": _fmt(history.dose_gy),
                "dose_unit": "Gy",
                "arm": history.arm,
                "replicate": replicates[history.arm],
                "treated_at": treated_at.isoformat(),
            }
        )
    spheroids = [
        {
            "plate": plate,
            "well": well_label(h.well),
            "arm": h.arm,
            "dose": _fmt(h.dose_gy),
            "fate": h.fate,
            "relapse_time_h": _fmt(h.relapse_time_h),
            "diameter_at_treatment_um": _fmt(h.diameter_at_treatment_um),
        }
        for h in histories
    ]
    result = SyntheticPlate(
        out_dir=out,
        images_dir=images_dir,
        masks_dir=masks_dir,
        plate_map_csv=out / "plate_map.csv",
        truth_csv=out / "truth.csv",
        spheroids_csv=out / "spheroids.csv",
        readme=out / "README.txt",
        plate=plate,
        wells=well_ids,
        times_h=tuple(float(t) for t in times_h),
        fields=fields,
        pixel_size_um=float(pixel_size_um),
        scenario=scenario,
        histories=histories,
        n_images=len(truth),
    )
    _write_csv(result.plate_map_csv, _PLATE_MAP_COLUMNS, plate_map)
    _write_csv(result.truth_csv, _TRUTH_COLUMNS, truth)
    _write_csv(result.spheroids_csv, _SPHEROID_COLUMNS, spheroids)
    result.readme.write_text(
        _README.format(
            plate=plate,
            seed=seed,
            n_wells=len(well_ids),
            n_fields=fields,
            n_times=days,
            interval_h=interval_h,
            start=treated_at.isoformat(),
            n_images=len(truth),
            height=shape[0],
            width=shape[1],
            pixel_size_um=pixel_size_um,
            relapse_factor=scenario.relapse_volume_factor,
            scd50=scenario.true_scd50_gy,
        ),
        encoding="utf-8",
    )
    logger.info(
        "wrote %d images of plate %s in %.1f s", len(truth), plate, time.perf_counter() - began
    )
    return result
