"""The wall of a round well: a dark ring with a refractive edge, and darkness outside it.

Seen from below, the well bottom is lit; towards the wall the curved bottom and the meniscus
bend light away (a gentle darkening), the wall itself is a dark band with a bright line where
it refracts, and outside the well (plastic between wells) almost no light reaches the
objective. Everything is optical density, in natural log units, on the scene's pixel grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hts.heldout.fields import radial_distance, smooth_noise

__all__ = ["Well", "random_well_wall", "render_well", "whole_well"]

FloatImage = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Well:
    """A round well on the image.

    Attributes
    ----------
    centre : (y, x)
        Well centre, pixels (may lie outside the image).
    radius_px : float
        Radius of the inner edge of the wall, pixels.
    wall_px : float
        Width of the wall band, pixels.
    outside_density : float
        Optical density outside the well (2 is 14 % of the light).
    rim_brightness : float
        Strength of the bright refraction line at the inner edge (optical density removed).
    vignette : float
        Optical density added at the wall by the curved bottom, fading inwards.
    """

    centre: tuple[float, float]
    radius_px: float
    wall_px: float
    outside_density: float
    rim_brightness: float
    vignette: float

    def inside(self, shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
        """``(Y, X)`` bool: pixels inside the inner edge of the wall."""
        return np.asarray(radial_distance(shape, self.centre) < self.radius_px)


def _optics(rng: np.random.Generator, um_per_px: float) -> dict[str, float]:
    return {
        "wall_px": float(rng.uniform(30.0, 120.0)) / um_per_px,
        "outside_density": float(rng.uniform(1.6, 3.2)),
        "rim_brightness": float(rng.uniform(0.1, 0.5)),
        "vignette": float(rng.uniform(0.1, 0.6)),
    }


def whole_well(
    rng: np.random.Generator,
    *,
    shape: tuple[int, int],
    diameter_um: float,
    um_per_px: float,
) -> Well:
    """A whole well, roughly centred in the image.

    Parameters
    ----------
    rng : np.random.Generator
    shape : (Y, X)
    diameter_um : float
        Inner well diameter, micrometres.
    um_per_px : float
    """
    radius = diameter_um / 2.0 / um_per_px
    slack = max(0.0, min(shape) / 2.0 - radius) * 0.5
    cy = shape[0] / 2.0 + float(rng.uniform(-1, 1)) * (slack + 0.02 * radius)
    cx = shape[1] / 2.0 + float(rng.uniform(-1, 1)) * (slack + 0.02 * radius)
    return Well((cy, cx), radius, **_optics(rng, um_per_px))


def random_well_wall(
    rng: np.random.Generator,
    *,
    target: tuple[float, float],
    clearance_px: float,
    direction: float,
    diameter_um: float,
    um_per_px: float,
) -> Well:
    """A well whose wall passes ``clearance_px`` from ``target`` (y, x) in ``direction``.

    Parameters
    ----------
    rng : np.random.Generator
    target : (y, x)
        A point inside the well (the spheroid centre), pixels.
    clearance_px : float
        Distance from ``target`` to the inner edge of the wall, pixels.
    direction : float
        Angle (radians, image x axis towards y) from ``target`` to the nearest wall point.
    diameter_um : float
        Inner well diameter, micrometres.
    um_per_px : float
    """
    radius = diameter_um / 2.0 / um_per_px
    back = radius - clearance_px
    cy = target[0] - back * math.sin(direction)
    cx = target[1] - back * math.cos(direction)
    return Well((cy, cx), radius, **_optics(rng, um_per_px))


def render_well(well: Well, shape: tuple[int, int], rng: np.random.Generator) -> FloatImage:
    """Optical density ``(Y, X)`` float32 of the well wall, the bottom's vignette and the outside.

    Parameters
    ----------
    well : Well
    shape : (Y, X)
    rng : np.random.Generator
        Draws the texture of the plastic outside the well.
    """
    rho = radial_distance(shape, well.centre) - np.float32(well.radius_px)  # > 0 outside
    w = max(well.wall_px, 2.0)
    fade = np.exp(np.minimum(rho, 0.0) / (0.12 * well.radius_px))
    inside = well.vignette * fade
    wall = np.clip(rho / w, 0.0, 1.0)
    dark = well.outside_density * (0.6 * np.sqrt(wall) + 0.4 * (rho > w))
    rim = well.rim_brightness * np.exp(-(((rho + 0.15 * w) / (0.12 * w)) ** 2))
    texture = 0.15 * smooth_noise(shape, rng, scale_px=2.0 * w) * (rho > 0)
    return np.asarray(inside + dark - rim + texture, np.float32)
