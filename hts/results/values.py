"""What the results store keeps for one image slot: from an image's analysis to stored values.

The one place that maps measurements onto the schema (`hts.results.schema.VARIABLES`):
pixel positions become micrometres, the contour becomes text. A worker fills a block's
rows with these and writes the chunk whole (`hts.results.store.ResultsStore.write_block`).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np

from hts.measure.contour import encode_contour
from hts.measure.record import ImageAnalysis
from hts.results.schema import ERROR_WIDTH, VARIABLES, Status

__all__ = [
    "PER_IMAGE",
    "blank_values",
    "error_text",
    "failed_values",
    "measured_values",
    "no_image_values",
    "set_row",
]

#: Every per-image variable, in store order.
PER_IMAGE: tuple[str, ...] = tuple(spec.name for spec in VARIABLES)


def blank_values(
    *, model_id: str, processing_version: int, time_since_treatment_h: float
) -> dict[str, Any]:
    """A slot about to be (re)done: every variable at its fill value, then who does it."""
    values: dict[str, Any] = {spec.name: spec.fill for spec in VARIABLES}
    values.update(
        model_id=model_id,
        processing_version=processing_version,
        time_since_treatment_h=time_since_treatment_h,
    )
    return values


def measured_values(analysis: ImageAnalysis, *, pixel_size_um: float) -> dict[str, Any]:
    """The stored values of an image's analysis (status ``OK``).

    ``pixel_size_um`` converts the centroid from pixels to micrometres (the measurement
    has areas and lengths in micrometres already).
    """
    m = analysis.measurement
    return {
        "area_um2": m.area_um2,
        "perimeter_um": m.perimeter_um,
        "diameter_um": m.diameter_um,
        "volume_um3": m.volume_um3,
        "circularity": m.circularity,
        "centroid_y_um": m.centroid_y_px * pixel_size_um,
        "centroid_x_um": m.centroid_x_px * pixel_size_um,
        "n_objects": m.n_objects,
        "qc_flags": analysis.flags.to_bits(),
        "contour": encode_contour(analysis.contour),
        "status": Status.OK,
    }


def error_text(error: BaseException) -> str:
    """``Type: message``, cut to what the store keeps (`ERROR_WIDTH`)."""
    return f"{type(error).__name__}: {error}"[:ERROR_WIDTH]


def failed_values(error: BaseException) -> dict[str, Any]:
    """The stored values of an image whose processing failed."""
    return {"status": Status.FAILED, "error": error_text(error)}


def no_image_values() -> dict[str, Any]:
    """The stored values of a slot the plate holds no image for."""
    return {"status": Status.NO_IMAGE}


def set_row(block: MutableMapping[str, np.ndarray], i: int, values: Mapping[str, Any]) -> None:
    """Set row ``i`` of a block's arrays (`ResultsStore.read_block`) to ``values``."""
    for name, value in values.items():
        block[name][i] = value
