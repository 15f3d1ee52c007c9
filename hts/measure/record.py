"""What one segmented image yields: its spheroid's measurement, QC flags and outline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hts.measure.morphometrics import SpheroidMeasurement
from hts.measure.qc import QCFlags

__all__ = ["ImageAnalysis"]


@dataclass(frozen=True)
class ImageAnalysis:
    """What one image yields: the spheroid's measurement and its QC flags
    (`hts.segment.postprocess.analyse_probability` makes it, `hts.results.values` stores it)."""

    measurement: SpheroidMeasurement
    flags: QCFlags
    #: ``(N, 2)`` int32 (x, y) outer contour of the spheroid, simplified to 1 px.
    contour: np.ndarray
