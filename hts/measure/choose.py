"""Choosing the spheroid among a mask's objects: a robust score, or the paper's largest.

The paper takes the largest object. In whole-well, low-magnification views that is often
the well wall (a dark band or crescent along the image border), the dark outside of the
well, or a cloud of debris. The robust rule scores every object by its area, discounted
for shapes a spheroid does not have (crescents, bands, ragged clouds), for contact with
the image border, for distance from the image centre and for a low probability, and takes
the best; see `choose_spheroid`. Pure numpy/OpenCV kernels: no I/O, no logging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np
import numpy.typing as npt

from hts.measure.morphometrics import (
    DEFAULT_MIN_AREA_PX,
    Box,
    FilledObject,
    LargestObject,
    filled_objects,
)

__all__ = ["Candidate", "ChoiceParams", "ChoiceRule", "SpheroidChoice", "choose_spheroid"]

#: How the spheroid is chosen: ``"robust"`` (best score) or ``"largest"`` (the paper's rule).
ChoiceRule = Literal["robust", "largest"]

#: Lower bound of the confidence factor 2 p - 1, so its logarithm stays finite.
_MIN_CONFIDENCE = 0.05


@dataclass(frozen=True)
class ChoiceParams:
    """How the spheroid is chosen and when the choice counts as uncertain.

    Attributes
    ----------
    rule : {"robust", "largest"}
        ``"robust"``: the object with the best score (`choose_spheroid`); ``"largest"``:
        the largest object, as in the paper.
    solidity_power : float
        Exponent a of solidity in the score (0: solidity does not count).
    thickness_power : float
        Exponent k of the thickness in the score (0: elongation and thin arms do not
        count).
    border_weight : float
        Deduction u from the score per equivalent diameter of border contact: an object
        cut by the edge is measured wrongly anyway, and the dark outside of a well often
        ends in a blob cut by the edge. A spheroid cut in half touches the edge along 1.41
        of its equivalent diameters (u = 1: it keeps 24 % of its area).
    border_free : float
        Border contact b0, in equivalent diameters, beyond which the deduction grows
        steeply (``wall_weight``): a well wall runs along the border.
    wall_weight : float
        Further deduction w per equivalent diameter of border contact beyond
        ``border_free``.
    centre_weight : float
        Deduction c per squared distance of the object's box centre from the image
        centre, in half image diagonals (a Gaussian prior on the position, of standard
        deviation sqrt(1 / (2 c)) half diagonals): spheroids settle at the bottom of the
        well, which imaging centres in the field, while walls and what lies beyond them
        are near the border. 2 keeps 14 % of the area of an object in a corner, 61 % of
        one halfway out; 0 for fields not centred on the wells.
    uncertain_ratio : float
        The choice is uncertain when another object's effective area (the exponential of
        its score) is at least 1 / ``uncertain_ratio`` of the chosen object's (> 1).
    wall_border : float
        The choice is uncertain when the chosen object touches the border along this many
        of its equivalent diameters or more (it looks like a well wall; a spheroid touches
        it this much only when less than a fifth of its radius is inside the image).
    wall_solidity : float
        The choice is uncertain when the chosen object's solidity is below this (a
        crescent, a corner outside the well, a ragged cloud).
    wall_thickness : float
        The choice is uncertain when the chosen object's thickness is below this (an arc,
        a band, a strand).
    """

    rule: ChoiceRule = "robust"
    solidity_power: float = 2.0
    thickness_power: float = 2.0
    border_weight: float = 1.0
    border_free: float = 1.5
    wall_weight: float = 2.0
    centre_weight: float = 2.0
    uncertain_ratio: float = 2.0
    wall_border: float = 2.5
    wall_solidity: float = 0.6
    wall_thickness: float = 0.5

    def __post_init__(self) -> None:
        if self.rule not in get_args(ChoiceRule):
            raise ValueError(f"rule must be one of {get_args(ChoiceRule)}, got {self.rule!r}")
        if not self.uncertain_ratio > 1.0:
            raise ValueError(f"uncertain_ratio must be > 1, got {self.uncertain_ratio}")
        weights = {
            "solidity_power": self.solidity_power,
            "thickness_power": self.thickness_power,
            "border_weight": self.border_weight,
            "border_free": self.border_free,
            "wall_weight": self.wall_weight,
            "centre_weight": self.centre_weight,
        }
        negative = [name for name, value in weights.items() if not value >= 0]
        if negative:
            raise ValueError(f"{', '.join(negative)} must be >= 0")


@dataclass(frozen=True)
class Candidate:
    """Shape features and score of one object (filled outer contour) of a mask.

    Attributes
    ----------
    box : (x, y, w, h)
        The object's bounding box, in pixels.
    area_px : int
        Pixels of the filled object, A.
    solidity : float
        s = A / pixels of the convex hull, in (0, 1]; about 1 for a disk, a half disk or an
        ellipse, low for crescents, rings open to one side and ragged debris.
    thickness : float
        t = radius of the largest disk inside the object / equivalent radius sqrt(A / pi),
        in (0, 1]: 1 for a disk, 0.71 for a 2:1 ellipse or two touching disks, about 0.4
        for a crescent, near 0 for a thin band or a strand of debris. The image border
        does not bound the object here (what lies beyond it is unknown), so a disk cut by
        the edge keeps t = 1. Computed on a grid coarse enough that sqrt(A / pi) spans at
        least 32 of its cells.
    border_ratio : float
        b = contour pixels on the image's outermost rows and columns / equivalent
        diameter sqrt(4 A / pi); 0 away from the border, 1.41 for a half disk cut by the
        edge, several for a band along the border.
    centre_distance : float
        r = distance of the box centre from the image centre / half the image diagonal,
        in [0, 1].
    mean_probability : float
        Mean spheroid probability p inside the filled object; NaN without a map.
    score : float
        ln of the effective area; see `choose_spheroid`.
    """

    box: Box
    area_px: int
    solidity: float
    thickness: float
    border_ratio: float
    centre_distance: float
    mean_probability: float
    score: float

    def looks_like_wall(self, params: ChoiceParams) -> bool:
        """Long border contact, low solidity or thin: more like a well wall than a spheroid."""
        return (
            self.border_ratio >= params.wall_border
            or self.solidity < params.wall_solidity
            or self.thickness < params.wall_thickness
        )


@dataclass(frozen=True)
class SpheroidChoice:
    """The chosen spheroid of one mask, the candidates and whether the choice is uncertain.

    Attributes
    ----------
    spheroid : LargestObject
        The chosen object (``found`` is False when the mask holds none); ``n_objects`` is
        the number of candidates.
    candidates : tuple of Candidate
        Every object of at least the minimum area, in OpenCV's contour order.
    index : int
        Position of the chosen object in ``candidates``; -1 when there is none.
    largest : int
        Position of the largest object (the paper's choice); -1 when there is none.
    uncertain : bool
        Another object's effective area is within ``uncertain_ratio`` of the chosen
        object's (or above it, under the rule ``"largest"``), or the chosen object looks
        like a well wall (`Candidate.looks_like_wall`).
    """

    spheroid: LargestObject
    candidates: tuple[Candidate, ...]
    index: int
    largest: int
    uncertain: bool


def _thickness(obj: FilledObject, shape: tuple[int, int], radius: float) -> float:
    """Largest inscribed radius / ``radius`` (see `Candidate.thickness`), at most 1."""
    x, y, w, h = obj.box
    step = max(1, int(radius // 32))
    sampled = np.ascontiguousarray(obj.crop[::step, ::step]).view(np.uint8)
    # Background around the object, except beyond the image border: OpenCV counts pixels
    # outside the array as foreground, so an unpadded side is not a boundary.
    grid = cv2.copyMakeBorder(
        sampled,
        int(y > 0),
        int(y + h < shape[0]),
        int(x > 0),
        int(x + w < shape[1]),
        cv2.BORDER_CONSTANT,
        value=0,
    )
    inscribed = float(cv2.distanceTransform(grid, cv2.DIST_L2, 5).max()) * step
    return min(1.0, inscribed / radius)


def _border_contact(obj: FilledObject, shape: tuple[int, int]) -> int:
    """Contour pixels of the object on the image's outermost rows and columns."""
    x, y, w, h = obj.box
    if x > 0 and y > 0 and x + w < shape[1] and y + h < shape[0]:
        return 0
    points = obj.contour.reshape(-1, 2)
    xs, ys = points[:, 0], points[:, 1]
    on = (xs == 0) | (ys == 0) | (xs == shape[1] - 1) | (ys == shape[0] - 1)
    return int(np.count_nonzero(on))


def _candidate(
    obj: FilledObject,
    shape: tuple[int, int],
    probability: npt.NDArray[np.floating] | None,
    params: ChoiceParams,
) -> Candidate:
    area = obj.area_px
    radius = math.sqrt(area / math.pi)
    hull = cv2.convexHull(obj.contour)
    # Pixels of the convex hull: its polygon through pixel centres, plus half its outline
    # and one, as Pick's theorem counts lattice points; a digitised disk has s = 1.
    hull_px = float(cv2.contourArea(hull)) + float(cv2.arcLength(hull, True)) / 2.0 + 1.0
    solidity = min(1.0, area / hull_px)
    thickness = _thickness(obj, shape, radius)
    border_ratio = _border_contact(obj, shape) / (2.0 * radius)
    x, y, w, h = obj.box
    half_diagonal = math.hypot(shape[0], shape[1]) / 2.0
    centre_distance = min(
        1.0,
        math.hypot(y + h / 2.0 - shape[0] / 2.0, x + w / 2.0 - shape[1] / 2.0) / half_diagonal,
    )
    mean_probability = math.nan
    confidence = 1.0
    if probability is not None:
        window = probability[y : y + h, x : x + w]
        mean_probability = float(cv2.mean(window, mask=obj.crop.view(np.uint8))[0])
        confidence = min(1.0, max(_MIN_CONFIDENCE, 2.0 * mean_probability - 1.0))
    score = (
        math.log(area)
        + params.solidity_power * math.log(solidity)
        + params.thickness_power * math.log(thickness)
        + math.log(confidence)
        - params.border_weight * border_ratio
        - params.wall_weight * max(0.0, border_ratio - params.border_free)
        - params.centre_weight * centre_distance**2
    )
    return Candidate(
        obj.box,
        area,
        solidity,
        thickness,
        border_ratio,
        centre_distance,
        mean_probability,
        score,
    )


def choose_spheroid(
    mask: npt.ArrayLike,
    probability: npt.ArrayLike | None = None,
    *,
    params: ChoiceParams | None = None,
    min_area_px: int = DEFAULT_MIN_AREA_PX,
) -> SpheroidChoice:
    """Choose the spheroid among a mask's objects and say whether the choice is uncertain.

    Every object (filled outer contour of at least ``min_area_px`` pixels, as
    `hts.measure.morphometrics.filled_objects` finds them) is a candidate. Its score is
    the logarithm of an effective area::

        score = ln A + a ln s + k ln t + ln max(0.05, 2 p - 1)
                - u b - w max(0, b - b0) - c r^2

    with A the object's pixels, s its solidity (A / convex hull pixels), t its thickness
    (largest inscribed radius / sqrt(A / pi)), p the mean probability inside it (the
    factor is 1 without a map), b its border contact in equivalent diameters and r the
    distance of its box centre from the image centre in half diagonals (see `Candidate`);
    a, k, u, w, b0 and c are ``params``' ``solidity_power`` (2), ``thickness_power`` (2),
    ``border_weight`` (1), ``wall_weight`` (2), ``border_free`` (1.5) and
    ``centre_weight`` (2). A compact, confidently segmented object at the centre keeps
    its area (exp(score) = A); a spheroid cut in half by the middle of the top edge keeps
    14 %; small debris at p 0.9 halfway out about 40 %; a crescent (s 0.57, t 0.36) about
    4 % before the border and centre terms; ragged debris (s 0.67, t 0.5, p 0.7) 4-5 %;
    a well wall along the top of a 1030 x 1300 image (s 0.72, t 0.82, b 3.4) 0.01 %. The rule ``"robust"`` takes the
    best score, ``"largest"`` the largest area (as `find_largest`); ties go to the first
    in OpenCV's contour order.

    The choice is uncertain when another candidate's score is at least the chosen one's
    minus ln ``uncertain_ratio`` (under ``"largest"``, also when it is higher), or when
    the chosen object looks like a wall (`Candidate.looks_like_wall`).

    Parameters
    ----------
    mask : (Y, X) array, bool or any numeric dtype
        Non-zero pixels are foreground (the probability map thresholded).
    probability : (Y, X) float, optional
        Spheroid probability in [0, 1] on the grid of ``mask``; gives the confidence term.
    params : ChoiceParams, optional
        Rule, score weights and uncertainty thresholds; default ``ChoiceParams()``.
    min_area_px : int, optional
        Objects with fewer pixels are not candidates.

    Returns
    -------
    SpheroidChoice
    """
    params = params if params is not None else ChoiceParams()
    shape, objects = filled_objects(mask, min_area_px=min_area_px)
    if not objects:
        return SpheroidChoice(LargestObject.none(shape), (), -1, -1, uncertain=False)
    p: npt.NDArray[np.floating] | None = None
    if probability is not None:
        p = np.asarray(probability)
        if p.shape != shape:
            raise ValueError(f"shapes differ: probability {p.shape}, mask {shape}")
        if p.dtype not in (np.float32, np.float64):
            p = p.astype(np.float32)
    candidates = tuple(_candidate(obj, shape, p, params) for obj in objects)
    n = len(candidates)
    largest = max(range(n), key=lambda k: candidates[k].area_px)
    best = max(range(n), key=lambda k: candidates[k].score)
    index = largest if params.rule == "largest" else best
    chosen = candidates[index]
    rival = max((c.score for k, c in enumerate(candidates) if k != index), default=-math.inf)
    uncertain = rival >= chosen.score - math.log(params.uncertain_ratio) or chosen.looks_like_wall(
        params
    )
    return SpheroidChoice(objects[index].chosen(shape, n), candidates, index, largest, uncertain)
