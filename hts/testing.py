"""Helpers for testing code that uses hts: tiny image folders with known answers, and
assertions about results stores in the way of ``xarray.testing``.

For realistic images use :mod:`hts.synth`; these are deliberately simple (a dark disk of
known radius on a bright, slightly noisy background) so that tests are fast and exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SlowSegmenter",
    "assert_qc_flags_decode",
    "assert_results_complete",
    "disk_image",
    "incucyte_name",
    "slow_classical",
    "tiny_results",
    "write_disk_plate",
]


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


def tiny_results() -> Any:
    """A hand-made results dataset with known key figures: three spheroids (arms
    ``untreated`` and two ``RT 5 Gy``) x two days; statuses ok, failed, pending and no image;
    QC flags touches_border and multiple_objects; diameters where measured."""
    import xarray as xr

    from hts.measure import QC_BITS
    from hts.results.schema import Status

    ok, failed, pending, no_image = Status.OK, Status.FAILED, Status.PENDING, Status.NO_IMAGE
    status = np.array([[ok, ok], [ok, failed], [pending, no_image]], dtype=np.int8)
    border, multiple = 1 << QC_BITS["touches_border"], 1 << QC_BITS["multiple_objects"]
    qc = np.array([[border, border | multiple], [0, multiple], [multiple, 0]], dtype=np.uint16)
    diameter = np.array([[100.0, 120.0], [200.0, np.nan], [np.nan, np.nan]])
    return xr.Dataset(
        {
            "status": (("well", "timepoint"), status),
            "qc_flags": (("well", "timepoint"), qc),
            "diameter_um": (("well", "timepoint"), diameter),
        },
        coords={
            "arm": ("well", np.array(["untreated", "RT 5 Gy", "RT 5 Gy"], dtype=object)),
            "day": ("timepoint", [0.0, 1.0]),
        },
        attrs={"plate": "P1"},
    )


def slow_classical(engine: str | None = None) -> SlowSegmenter:
    """Factory of a test plugin: declare it in the ``hts.segmenters`` entry-point group."""
    return SlowSegmenter()


def assert_results_complete(ds: Any, *, n_ok: int | None = None) -> None:
    """Assert a results dataset (`hts.open_results`) holds a finished run.

    No image slot is still pending; measured (``ok``) slots have a finite area and
    diameter and name the model that made them; failed slots say why; slots that are not
    ``ok`` hold no measurement. ``n_ok``: the number of measured slots expected.
    """
    from hts.results.schema import MEASUREMENTS, Status

    status = np.asarray(ds["status"].values)
    ok = status == Status.OK
    pending = int((status == Status.PENDING).sum())
    assert pending == 0, f"{pending} image slots are still pending"
    if n_ok is not None:
        assert int(ok.sum()) == n_ok, f"{int(ok.sum())} slots measured, expected {n_ok}"
    for name in ("area_um2", "diameter_um"):
        values = np.asarray(ds[name].values, dtype=float)
        assert np.isfinite(values[ok]).all(), f"a measured slot has no {name}"
    models = np.asarray(ds["model_id"].values, dtype=object)[ok]
    assert all(models), "a measured slot does not name its model"
    errors = np.asarray(ds["error"].values, dtype=object)[status == Status.FAILED]
    assert all(errors), "a failed slot does not say why"
    for spec in MEASUREMENTS:
        values = np.asarray(ds[spec.name].values, dtype=float)
        assert np.isnan(values[~ok]).all(), f"{spec.name} is set on a slot that is not ok"


def assert_qc_flags_decode(ds: Any) -> dict[str, np.ndarray]:
    """Assert ``qc_flags`` decodes by its CF attributes as `hts.measure.qc.QC_BITS` does.

    ``flag_masks`` and ``flag_meanings`` (CF conventions, section 3.5) must name every
    flag with its own bit. Returns each flag's images, decoded from the attributes alone
    (``{name: bool array shaped like qc_flags}``), as a CF-aware reader would.
    """
    from hts.measure.qc import QC_BITS

    attrs = ds["qc_flags"].attrs
    masks = [int(m) for m in np.atleast_1d(attrs.get("flag_masks", []))]
    meanings = str(attrs.get("flag_meanings", "")).split()
    assert meanings, "qc_flags has no flag_meanings"
    assert len(masks) == len(meanings), f"{len(masks)} flag_masks, {len(meanings)} flag_meanings"
    assert dict(zip(meanings, masks, strict=True)) == {k: 1 << b for k, b in QC_BITS.items()}, (
        f"qc_flags' CF attributes {dict(zip(meanings, masks, strict=True))} differ from QC_BITS"
    )
    bits = np.asarray(ds["qc_flags"].values).astype(np.int64)
    return {name: (bits & mask) != 0 for name, mask in zip(meanings, masks, strict=True)}
