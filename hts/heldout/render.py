"""One held-out image from start to finish: scene, optics, camera, annotations, compression.

:func:`render_heldout` is the single entry point for an image; :func:`image_rng` gives the
random generator of image ``index`` of a category under a seed, so that any image of a set
can be re-rendered alone and bit for bit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hts.heldout.export import burn_in, digitise, jpeg_round_trip, random_camera
from hts.heldout.optics import form_image, random_optics
from hts.heldout.scenes import CATEGORIES, compose_scene
from hts.heldout.well import Well

__all__ = ["HeldoutImage", "image_rng", "render_heldout"]

log = logging.getLogger(__name__)

#: Mixed into every seed so that these streams differ from any other generator's.
_STREAM = 0x48454C44  # "HELD"


@dataclass(frozen=True, eq=False)
class HeldoutImage:
    """A rendered held-out image with its reference.

    Attributes
    ----------
    image : (Y, X) uint16 or uint8, or (Y, X, 3) uint8 (R, G, B)
        The pixels as a reader gets them from the file (for ``jpeg``, decoded from
        ``encoded``).
    mask : (Y, X) bool
        Reference mask.
    category : str
    pixel_size_um : float
        Pixel edge length, micrometres.
    diameter_um : float
        Equivalent diameter of the mask, ``sqrt(4 A / pi)``, micrometres.
    image_format : str
        ``uint16``, ``uint8``, ``jpeg`` or ``rgb`` (see :mod:`hts.heldout.export`).
    encoded : bytes or None
        The JPEG file, for the ``jpeg`` format.
    contrast : str
        ``brightfield``, ``inverted`` or ``darkfield``.
    body_areas_px : tuple of int
        Mask area of each spheroid body, pixels.
    well : Well or None
        The well whose wall is in view.
    """

    image: npt.NDArray[np.uint8 | np.uint16]
    mask: npt.NDArray[np.bool_]
    category: str
    pixel_size_um: float
    diameter_um: float
    image_format: str
    encoded: bytes | None
    contrast: str
    body_areas_px: tuple[int, ...]
    well: Well | None


def image_rng(seed: int, category: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``category`` in the set drawn with ``seed``."""
    code = CATEGORIES.index(category)
    return np.random.default_rng(np.random.SeedSequence([_STREAM, seed, code, index]))


def render_heldout(
    category: str,
    rng: np.random.Generator,
    *,
    shape: tuple[int, int] | None = None,
    image_format: str | None = None,
) -> HeldoutImage:
    """Render one held-out image of ``category``.

    Parameters
    ----------
    category : str
        One of :data:`hts.heldout.scenes.CATEGORIES`.
    rng : np.random.Generator
    shape : (Y, X), optional
        Image shape (default drawn, 768-1300 pixels per side).
    image_format : str, optional
        Fix the format (default drawn): ``uint16``, ``uint8``, ``jpeg`` or ``rgb``.

    Returns
    -------
    HeldoutImage
    """
    scene = compose_scene(category, rng, shape=shape)
    optics = random_optics(rng, contrast=scene.contrast, cell_px=scene.cell_px)
    camera = random_camera(rng, image_format=image_format)
    light = form_image(scene.density, optics, rng)
    pixels = digitise(light, camera)
    if scene.annotation is not None:
        pixels = burn_in(pixels, scene.annotation)
    encoded = None
    if camera.format == "jpeg":
        pixels, encoded = jpeg_round_trip(np.asarray(pixels, np.uint8), camera.jpeg_quality)
    area_um2 = float(scene.mask.sum()) * scene.pixel_size_um**2
    log.debug(
        "%s: %s px at %.3f um, %s %s, halo %.2f, defocus %.1f px",
        category, pixels.shape, scene.pixel_size_um, camera.format, scene.contrast,
        optics.halo, optics.defocus_px,
    )  # fmt: skip
    return HeldoutImage(
        image=pixels,
        mask=scene.mask,
        category=category,
        pixel_size_um=scene.pixel_size_um,
        diameter_um=math.sqrt(4.0 * area_um2 / math.pi),
        image_format=camera.format,
        encoded=encoded,
        contrast=scene.contrast,
        body_areas_px=scene.body_areas_px,
        well=scene.well,
    )
