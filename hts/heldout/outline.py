"""The irregular outline of a cell mass: a few overlapping elliptical lobes with a bumpy edge.

The outline is the zero level of a field that approximates the signed distance (pixels) to a
smooth union of ellipses, perturbed by a random field whose correlation length is a few cell
diameters. The union is smooth (log-sum-exp), so lobes meet in rounded necks, not corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hts.heldout.fields import fill_holes, largest_component, smooth_noise

__all__ = ["Lobe", "OutlineSpec", "outline_field", "outline_mask", "random_outline"]

FloatImage = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Lobe:
    """One elliptical lobe, in pixels relative to the outline's centre.

    Attributes
    ----------
    dy, dx : float
        Lobe centre offset from the outline centre, pixels.
    a, b : float
        Semi-axes, pixels (``a`` along ``angle``).
    angle : float
        Orientation of ``a``, radians.
    """

    dy: float
    dx: float
    a: float
    b: float
    angle: float


@dataclass(frozen=True)
class OutlineSpec:
    """A random outline: its lobes and the bumpiness of its edge.

    Attributes
    ----------
    lobes : tuple of Lobe
        One to four lobes; the first is the main body, centred near the origin.
    bump_px : float
        Standard deviation of the edge displacement, pixels.
    bump_scale_px : float
        Correlation length of the edge displacement along the edge, pixels.
    blend_px : float
        Width of the rounded necks between lobes, pixels.
    """

    lobes: tuple[Lobe, ...]
    bump_px: float
    bump_scale_px: float
    blend_px: float

    @property
    def extent_px(self) -> float:
        """Radius from the centre that holds every lobe plus three bump amplitudes."""
        reach = max(math.hypot(lb.dy, lb.dx) + max(lb.a, lb.b) for lb in self.lobes)
        return reach + 3.0 * self.bump_px + self.blend_px


def random_outline(
    rng: np.random.Generator,
    *,
    radius_px: float,
    cell_px: float,
    max_lobes: int = 4,
    irregularity: float = 1.0,
) -> OutlineSpec:
    """Draw a lobed outline whose area is close to that of a disc of ``radius_px``.

    Parameters
    ----------
    rng : np.random.Generator
    radius_px : float
        Equivalent radius of the whole outline, pixels.
    cell_px : float
        Mean cell diameter, pixels: sets the bump scale.
    max_lobes : int
        Upper bound on the number of lobes (1-4).
    irregularity : float
        Scales the lobe offsets and the bump amplitude (0: an ellipse).

    Returns
    -------
    OutlineSpec
    """
    n = int(rng.integers(1, max(1, min(max_lobes, 4)) + 1))
    aspect = float(rng.uniform(1.0, 1.35))
    lobes = [Lobe(0.0, 0.0, aspect, 1.0 / aspect, float(rng.uniform(0, math.pi)))]
    for _ in range(n - 1):
        size = float(rng.uniform(0.35, 0.75))
        dist = float(rng.uniform(0.35, 0.8)) * irregularity
        phi = float(rng.uniform(0, 2 * math.pi))
        asp = float(rng.uniform(1.0, 1.5))
        lobes.append(
            Lobe(
                dist * math.sin(phi),
                dist * math.cos(phi),
                size * asp,
                size / asp,
                float(rng.uniform(0, math.pi)),
            )
        )
    # Scale so that the union's area roughly matches pi * radius^2 (the union of
    # overlapping lobes is about the main lobe plus half of each extra lobe).
    area = 1.0 + sum(0.5 * lb.a * lb.b for lb in lobes[1:])
    k = radius_px / math.sqrt(area)
    scaled = tuple(Lobe(lb.dy * k, lb.dx * k, lb.a * k, lb.b * k, lb.angle) for lb in lobes)
    bump = irregularity * float(rng.uniform(0.25, 0.9)) * cell_px
    return OutlineSpec(
        lobes=scaled,
        bump_px=min(bump, 0.12 * radius_px),
        bump_scale_px=float(rng.uniform(1.2, 3.5)) * cell_px,
        blend_px=float(rng.uniform(0.05, 0.2)) * radius_px,
    )


def outline_field(
    spec: OutlineSpec,
    shape: tuple[int, int],
    centre: tuple[float, float],
    rng: np.random.Generator,
) -> FloatImage:
    """Approximate signed distance to the outline (pixels; positive inside).

    Parameters
    ----------
    spec : OutlineSpec
    shape : (Y, X)
        Canvas shape.
    centre : (y, x)
        Outline centre on the canvas, pixels.
    rng : np.random.Generator
        Draws the edge bumps.

    Returns
    -------
    (Y, X) float32
    """
    yy = np.arange(shape[0], dtype=np.float32)[:, None] - np.float32(centre[0])
    xx = np.arange(shape[1], dtype=np.float32)[None, :] - np.float32(centre[1])
    fields = []
    for lb in spec.lobes:
        c, s = math.cos(lb.angle), math.sin(lb.angle)
        u = (xx - lb.dx) * c + (yy - lb.dy) * s
        v = -(xx - lb.dx) * s + (yy - lb.dy) * c
        r = np.sqrt((u / lb.a) ** 2 + (v / lb.b) ** 2)
        fields.append((1.0 - r) * math.sqrt(lb.a * lb.b))
    stack = np.stack(fields)
    k = max(spec.blend_px, 1.0)
    top = stack.max(axis=0)
    union = top + k * np.log(np.exp((stack - top) / k).sum(axis=0))
    bumps = smooth_noise(shape, rng, scale_px=spec.bump_scale_px) * spec.bump_px
    return np.asarray(union + bumps, np.float32)


def outline_mask(field: FloatImage) -> npt.NDArray[np.bool_]:
    """The outline as a filled, single-piece mask: the largest region where ``field > 0``."""
    return fill_holes(largest_component(field > 0))
