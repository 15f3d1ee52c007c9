"""Segmentation accuracy against a reference mask: JCD, RDD, RCD, radial error, ISF, ASF.

Definitions follow Streller et al. (GigaScience 2025), "Evaluation metrics": P is the
predicted spheroid (the paper's largest predicted object; here chosen as a run chooses it,
see `hts.measure.choose`), T the reference spheroid; lower is better for every metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hts.measure.choose import ChoiceParams, choose_spheroid
from hts.measure.morphometrics import DEFAULT_MIN_AREA_PX, measure_object

__all__ = [
    "SegmentationScore",
    "average_radial_error_um",
    "compare_masks",
    "jaccard_distance",
    "relative_circularity_deviation",
    "relative_diameter_deviation",
    "summarise",
]


def _pair(pred: npt.ArrayLike, target: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as bool arrays of one shape."""
    p = np.asarray(pred) != 0
    t = np.asarray(target) != 0
    if p.shape != t.shape:
        raise ValueError(f"masks differ in shape: pred {p.shape}, target {t.shape}")
    return p, t


def jaccard_distance(pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Jaccard distance JCD = 1 - |P n T| / |P u T| of two masks.

    Parameters
    ----------
    pred, target : (Y, X) array, bool or numeric
        Non-zero pixels are foreground; the masks are compared as given.

    Returns
    -------
    float
        In [0, 1]: 0 for identical masks, 1 without overlap. Two empty masks agree: 0.
    """
    p, t = _pair(pred, target)
    union = int(np.count_nonzero(p | t))
    if union == 0:
        return 0.0
    return 1.0 - int(np.count_nonzero(p & t)) / union


def _relative_deviation(predicted: float, reference: float) -> float:
    """|predicted - reference| / reference; NaN when the reference is 0 or NaN."""
    if not reference > 0:
        return math.nan
    return abs(predicted - reference) / reference


def relative_diameter_deviation(pred_diameter: float, target_diameter: float) -> float:
    """RDD = |d_P - d_T| / d_T, dimensionless, >= 0 (not bounded by 1).

    Diameters in any one unit. NaN when ``target_diameter`` is 0 or NaN; `compare_masks`
    handles the empty cases before calling this.
    """
    return _relative_deviation(pred_diameter, target_diameter)


def relative_circularity_deviation(pred_circularity: float, target_circularity: float) -> float:
    """RCD = |C_P - C_T| / C_T, dimensionless, >= 0 (not bounded by 1).

    NaN when ``target_circularity`` is 0 or NaN.
    """
    return _relative_deviation(pred_circularity, target_circularity)


def average_radial_error_um(
    pred: npt.ArrayLike, target: npt.ArrayLike, *, pixel_size_um: float
) -> float:
    """Average radial error dr = sqrt((A_T + |P xor T|) / pi) - sqrt(A_T / pi).

    The thickness of a ring around a circle of area A_T whose area equals the mismatched
    area; added and missing pixels both count, so they do not cancel.

    Parameters
    ----------
    pred, target : (Y, X) array, bool or numeric
        Non-zero pixels are foreground; the masks are compared as given.
    pixel_size_um : float
        Edge length of a pixel, in micrometres.

    Returns
    -------
    float
        dr in micrometres, >= 0. With an empty target it is the radius of a disk of the
        predicted area; 0 when both are empty.
    """
    if not (pixel_size_um > 0 and math.isfinite(pixel_size_um)):
        raise ValueError(f"pixel_size_um must be a positive number, got {pixel_size_um}")
    p, t = _pair(pred, target)
    pixel_area_um2 = pixel_size_um**2
    area_target_um2 = int(np.count_nonzero(t)) * pixel_area_um2
    mismatch_um2 = int(np.count_nonzero(p ^ t)) * pixel_area_um2
    return math.sqrt((area_target_um2 + mismatch_um2) / math.pi) - math.sqrt(
        area_target_um2 / math.pi
    )


@dataclass(frozen=True)
class SegmentationScore:
    """Accuracy of one predicted mask against its reference.

    Attributes
    ----------
    jcd : float
        Jaccard distance of the predicted spheroid and the reference, in [0, 1].
    rdd : float
        Relative diameter deviation, >= 0; 1 when ``invalid``.
    rcd : float
        Relative circularity deviation, >= 0; 1 when ``invalid``.
    radial_error_um : float
        Average radial error dr, in micrometres.
    invalid : bool
        JCD == 1: the spheroid was missed or found in the wrong place (counts to ISF).
    ambiguous : bool
        More than one object was predicted (counts to ASF).
    reference_objects : int
        Objects in the reference mask. Where it holds two (touching or split spheroids),
        a second predicted object is right, yet the paper's ASF counts it; `summarise`
        also gives ASF over the images whose reference holds one object.
    """

    jcd: float
    rdd: float
    rcd: float
    radial_error_um: float
    invalid: bool
    ambiguous: bool
    reference_objects: int = 1


def compare_masks(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    pixel_size_um: float,
    min_area_px: int = DEFAULT_MIN_AREA_PX,
    probability: npt.ArrayLike | None = None,
    choice: ChoiceParams | None = None,
) -> SegmentationScore:
    """Score a predicted mask against a reference mask, as in the paper.

    P is the predicted spheroid, filled inside its outer border, chosen among the
    predicted objects as a run chooses it (`hts.measure.choose.choose_spheroid`; with
    ``ChoiceParams(rule="largest")`` the largest, as in the paper). The reference is
    reduced the same way (same rule, without a probability map) to its filled spheroid T,
    so specks or holes in a hand-drawn reference do not count against the prediction and
    ``compare_masks(m, m)`` is always a perfect score.

    Empty masks: with neither a predicted nor a reference object, the prediction is
    right (all metrics 0, not invalid). With exactly one of them empty, JCD = 1, so the
    image is invalid and RDD = RCD = 1; dr follows its formula (for an empty prediction,
    (sqrt(2) - 1) times the reference radius).

    Parameters
    ----------
    pred, target : (Y, X) array, bool or numeric
        Predicted and reference masks; non-zero pixels are foreground.
    pixel_size_um : float
        Edge length of a pixel, in micrometres.
    min_area_px : int, optional
        Objects with fewer pixels are ignored in both masks; see `filled_objects`.
    probability : (Y, X) float, optional
        The probability map ``pred`` was thresholded from; a term of the robust choice.
    choice : ChoiceParams, optional
        How P is chosen; default ``ChoiceParams()`` (robust, as a run).

    Returns
    -------
    SegmentationScore
    """
    p_raw, t_raw = _pair(pred, target)
    chosen = choose_spheroid(p_raw, probability, params=choice, min_area_px=min_area_px)
    p, n_pred = chosen.spheroid.full(), chosen.spheroid.n_objects
    reference = choose_spheroid(t_raw, params=choice, min_area_px=min_area_px).spheroid
    t, n_target = reference.full(), reference.n_objects
    jcd = jaccard_distance(p, t)
    radial = average_radial_error_um(p, t, pixel_size_um=pixel_size_um)
    ambiguous = n_pred > 1
    if not t.any() and not p.any():
        return SegmentationScore(0.0, 0.0, 0.0, 0.0, invalid=False, ambiguous=False)
    if jcd == 1.0:
        return SegmentationScore(
            jcd, 1.0, 1.0, radial, invalid=True, ambiguous=ambiguous, reference_objects=n_target
        )
    # Both objects are non-empty here, so measuring cannot fail.
    mp = measure_object(chosen.spheroid, pixel_size_um=pixel_size_um)
    mt = measure_object(reference, pixel_size_um=pixel_size_um)
    return SegmentationScore(
        jcd=jcd,
        rdd=relative_diameter_deviation(mp.diameter_um, mt.diameter_um),
        rcd=relative_circularity_deviation(mp.circularity, mt.circularity),
        radial_error_um=radial,
        invalid=False,
        ambiguous=ambiguous,
        reference_objects=n_target,
    )


def _binomial_se(fraction: float, n: int) -> float:
    return math.sqrt(fraction * (1.0 - fraction) / n) if n > 0 else math.nan


def summarise(scores: Iterable[SegmentationScore], *, ddof: int = 1) -> dict[str, float]:
    """Summary statistics of per-image scores for one image set.

    Parameters
    ----------
    scores : iterable of SegmentationScore
        One score per image.
    ddof : int, optional
        Delta degrees of freedom of the standard deviations (1: sample standard
        deviation; NaN for a single image).

    Returns
    -------
    dict of str to float
        ``n`` (number of images); ``jcd_mean``, ``jcd_std``, ``rdd_mean``, ``rdd_std``,
        ``rcd_mean``, ``rcd_std``, ``radial_error_um_mean``, ``radial_error_um_std``;
        ``isf`` and ``asf`` (fractions of invalid and ambiguous images) with their
        binomial standard errors ``isf_se`` and ``asf_se`` = sqrt(p (1 - p) / n);
        ``asf_one``, ``asf_one_se`` and ``n_one``: ASF over the images whose reference
        holds exactly one object (where any second predicted object is false).
        Statistics are NaN for an empty set; NaN scores propagate into the means.
    """
    items = list(scores)
    n = len(items)
    summary: dict[str, float] = {"n": float(n)}
    for name in ("jcd", "rdd", "rcd", "radial_error_um"):
        values = np.array([getattr(s, name) for s in items], dtype=np.float64)
        summary[f"{name}_mean"] = float(values.mean()) if n > 0 else math.nan
        summary[f"{name}_std"] = float(values.std(ddof=ddof)) if n > ddof else math.nan
    for name, flag in (("isf", "invalid"), ("asf", "ambiguous")):
        fraction = sum(bool(getattr(s, flag)) for s in items) / n if n > 0 else math.nan
        summary[name] = fraction
        summary[f"{name}_se"] = _binomial_se(fraction, n)
    single = [s for s in items if s.reference_objects == 1]
    summary["n_one"] = float(len(single))
    summary["asf_one"] = sum(s.ambiguous for s in single) / len(single) if single else math.nan
    summary["asf_one_se"] = _binomial_se(summary["asf_one"], len(single))
    return summary
