"""From a probability map to a measured spheroid with QC flags: the paper's post-processing."""

from __future__ import annotations

import numpy as np

from hts.measure.choose import ChoiceParams, choose_spheroid
from hts.measure.contour import simplify_contour
from hts.measure.morphometrics import measure_object
from hts.measure.qc import qc_flags
from hts.measure.record import ImageAnalysis

__all__ = ["PROCESSING_VERSION", "THRESHOLD", "ImageAnalysis", "analyse_probability"]

#: Probability at or above which a pixel is spheroid (the paper's 0.5).
THRESHOLD = 0.5

#: Version of everything between a segmenter's output and the stored numbers: restoring a
#: network's map to image size (`hts.segment.network.restore_probability`), thresholding,
#: the choice of the spheroid among the objects, measurements and QC. Bump it with any
#: change that alters results: results stores record it per image and a re-run redoes
#: results of another version, as it does for another model. 1: up to 2026-11-26;
#: 2: outline smoothing in restore_probability; 3: robust spheroid choice
#: (`hts.measure.choose`), uncertain_choice flag; 4: a closer look (``+zoom``,
#: ``+near``) keeps its outline with the first look's certainty, and doubt where the
#: looks disagree (`hts.segment.outline.keep_margin`), which changes QC flags and choices
#: under the same model id.
PROCESSING_VERSION = 4


def analyse_probability(
    probability: np.ndarray,
    *,
    pixel_size_um: float,
    image: np.ndarray | None = None,
    choice: ChoiceParams | None = None,
) -> ImageAnalysis:
    """Threshold ``(Y, X)`` probabilities, choose and measure the spheroid, raise QC flags.

    ``image`` (the original ``(Y, X)`` pixels) enables the focus check. ``choice`` says
    how the spheroid is chosen among the objects (default ``ChoiceParams()``: the robust
    score of `hts.measure.choose.choose_spheroid`; ``rule="largest"`` is the paper's).
    """
    mask = probability >= THRESHOLD
    # Once: measurement, QC and contour share it.
    chosen = choose_spheroid(mask, probability, params=choice)
    measurement = measure_object(chosen.spheroid, pixel_size_um=pixel_size_um)
    flags = qc_flags(probability, mask, measurement, image=image, choice=chosen)
    return ImageAnalysis(measurement, flags, simplify_contour(chosen.spheroid.contour))
