"""Measuring spheroids: choosing and measuring the spheroid of a mask, accuracy against a
reference, QC flags."""

from hts.measure.choose import ChoiceParams, SpheroidChoice, choose_spheroid
from hts.measure.metrics import (
    SegmentationScore,
    average_radial_error_um,
    compare_masks,
    jaccard_distance,
    relative_circularity_deviation,
    relative_diameter_deviation,
    summarise,
)
from hts.measure.morphometrics import (
    DEFAULT_MIN_AREA_PX,
    SpheroidMeasurement,
    largest_object,
    measure_mask,
)
from hts.measure.qc import QC_BITS, QCFlags, contour_margin, focus_measure, qc_flags

__all__ = [
    "DEFAULT_MIN_AREA_PX",
    "QC_BITS",
    "ChoiceParams",
    "QCFlags",
    "SegmentationScore",
    "SpheroidChoice",
    "SpheroidMeasurement",
    "average_radial_error_um",
    "choose_spheroid",
    "compare_masks",
    "contour_margin",
    "focus_measure",
    "jaccard_distance",
    "largest_object",
    "measure_mask",
    "qc_flags",
    "relative_circularity_deviation",
    "relative_diameter_deviation",
    "summarise",
]
