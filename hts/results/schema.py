"""The results schema: per-spheroid measurements over time as an xarray Dataset.

Dimensions are ``well`` (one spheroid position: a well, or a well's field when a plate has
several fields) and ``timepoint`` (the plate's imaging sessions, in the plate's order). Every
image slot has a ``status``; measurements of a slot that is not ``OK`` are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from hts.measure.qc import QC_BITS

__all__ = [
    "ERROR_WIDTH",
    "MEASUREMENTS",
    "VARIABLES",
    "Status",
    "VariableSpec",
    "position_label",
    "qc_flag_attrs",
]

#: Longest error text kept per image; the worker's log has the rest.
ERROR_WIDTH = 200


class Status(IntEnum):
    """What happened to one image slot (well x time point)."""

    PENDING = 0  #: not processed yet
    OK = 1  #: segmented and measured (QC flags may still be raised)
    FAILED = 2  #: processing failed; ``error`` says why
    NO_IMAGE = 3  #: the plate has no image for this slot


@dataclass(frozen=True)
class VariableSpec:
    """One data variable of the results store."""

    name: str
    dtype: str
    fill: Any
    attrs: dict[str, Any]


def qc_flag_attrs() -> dict[str, Any]:
    """CF attributes that decode ``qc_flags``: one mask and one name per `QC_BITS` entry.

    ``flag_masks`` are the bit values (ints, as the variable's uint16), ``flag_meanings``
    the flag names separated by spaces, in the same order, as the CF conventions
    (section 3.5) ask, so a CF-aware reader (e.g. cf_xarray) decodes the bits by name.
    """
    bits = sorted(QC_BITS.items(), key=lambda kv: kv[1])
    return {
        "flag_masks": [1 << bit for _, bit in bits],
        "flag_meanings": " ".join(name for name, _ in bits),
    }


def _f(name: str, units: str, long_name: str) -> VariableSpec:
    return VariableSpec(name, "float64", np.nan, {"units": units, "long_name": long_name})


#: Measurements of the segmented spheroid (the largest object).
MEASUREMENTS: tuple[VariableSpec, ...] = (
    _f("area_um2", "um2", "projected area of the spheroid"),
    _f("perimeter_um", "um", "perimeter of the spheroid's outer contour"),
    _f("diameter_um", "um", "equivalent-circle diameter sqrt(4 A / pi)"),
    _f("volume_um3", "um3", "volume pi d^3 / 6 under the sphere assumption"),
    _f("circularity", "1", "4 pi A / L^2, 1 for a circle"),
    _f("centroid_y_um", "um", "centroid row position from the image's top edge"),
    _f("centroid_x_um", "um", "centroid column position from the image's left edge"),
)

#: Every per-image variable, in store order.
VARIABLES: tuple[VariableSpec, ...] = (
    *MEASUREMENTS,
    VariableSpec("n_objects", "int16", -1, {"long_name": "objects found (-1: not processed)"}),
    VariableSpec(
        "qc_flags",
        "uint16",
        0,
        {"long_name": "QC flag bits; see hts.measure.qc.QCFlags", **qc_flag_attrs()},
    ),
    VariableSpec(
        "status",
        "int8",
        int(Status.PENDING),
        {
            "long_name": "processing status",
            "flag_values": " ".join(str(int(s)) for s in Status),
            "flag_meanings": " ".join(s.name.lower() for s in Status),
        },
    ),
    VariableSpec("model_id", "str", "", {"long_name": "segmenter id and version"}),
    VariableSpec(
        "processing_version",
        "int16",
        0,
        {
            "long_name": "version of post-processing and QC that made the result (0: unknown)",
            "comment": "hts.segment.postprocess.PROCESSING_VERSION",
        },
    ),
    VariableSpec("error", "str", "", {"long_name": "why processing failed"}),
    VariableSpec(
        "contour",
        "str",
        "",
        {"long_name": "outer contour of the spheroid: 'x,y x,y ...' in image pixels (QC overlays)"},
    ),
    VariableSpec(
        "time_since_treatment_h",
        "float64",
        np.nan,
        {"units": "h", "long_name": "this image's time since treatment"},
    ),
)


def position_label(well_name: str, field: int, n_fields: int) -> str:
    """Label of a spheroid position: the well ('B03'), or 'B03_f2' on multi-field plates."""
    return well_name if n_fields <= 1 else f"{well_name}_f{field}"
