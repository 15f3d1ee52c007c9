"""From a probability map to a measured spheroid with QC flags: the paper's post-processing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hts.measure.contour import simplify_contour
from hts.measure.morphometrics import SpheroidMeasurement, find_largest, measure_object
from hts.measure.qc import QCFlags, qc_flags

__all__ = ["PROCESSING_VERSION", "THRESHOLD", "ImageAnalysis", "analyse_probability"]

#: Probability at or above which a pixel is spheroid (the paper's 0.5).
THRESHOLD = 0.5

#: Version of everything between a segmenter's output and the stored numbers: restoring a
#: network's map to image size (`hts.segment.network.restore_probability`), thresholding,
#: the largest object, measurements and QC. Bump it with any change that alters results:
#: results stores record it per image and a re-run redoes results of another version, as it
#: does for another model. 1: up to 2026-11-26; 2: outline smoothing in restore_probability.
PROCESSING_VERSION = 2


@dataclass(frozen=True)
class ImageAnalysis:
    """What one image yields: the spheroid's measurement and its QC flags."""

    measurement: SpheroidMeasurement
    flags: QCFlags
    #: ``(N, 2)`` int32 (x, y) outer contour of the spheroid, simplified to 1 px.
    contour: np.ndarray


def analyse_probability(
    probability: np.ndarray, *, pixel_size_um: float, image: np.ndarray | None = None
) -> ImageAnalysis:
    """Threshold ``(Y, X)`` probabilities, measure the largest object and raise QC flags.

    ``image`` (the original ``(Y, X)`` pixels) enables the focus check.
    """
    mask = probability >= THRESHOLD
    spheroid = find_largest(mask)  # once: measurement, QC and contour share it
    measurement = measure_object(spheroid, pixel_size_um=pixel_size_um)
    flags = qc_flags(probability, mask, measurement, image=image, spheroid=spheroid)
    return ImageAnalysis(measurement, flags, simplify_contour(spheroid.contour))
