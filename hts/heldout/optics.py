"""From optical density to light on the sensor: contrast mode, halo, blur, illumination, noise.

Model, in order:

1. transmission ``T = exp(-density)`` (brightfield); or a darkfield-like image, where only
   light scattered by objects (their density and its edges) reaches the sensor;
2. with some probability a phase-contrast-like halo: dark objects get a bright surround and
   a crisper inside (a difference of Gaussians of the darkness ``1 - T``);
3. blur: a small Gaussian point spread plus a pillbox of random radius (defocus);
4. Koehler-style illumination: flat in the middle, a radial fall-off towards the corners
   around an off-centre optical axis, times a slightly tilted plane;
5. optionally an inverted export (bright objects on a dark background): either the
   intensity turned upside down, or an optical-density display (``-log`` of the intensity
   relative to the background), which keeps texture inside dark objects;
6. shot noise (Poisson, from a random number of photoelectrons at the background level)
   plus Gaussian read noise.

Intensities are relative: the background in the middle of a brightfield image is about 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["CONTRASTS", "Optics", "form_image", "random_optics"]

FloatImage = npt.NDArray[np.float32]

#: Contrast modes: dark objects on light, inverted export, darkfield-like scatter.
CONTRASTS = ("brightfield", "inverted", "darkfield")


@dataclass(frozen=True)
class Optics:
    """Everything between the specimen and the digitiser.

    Attributes
    ----------
    contrast : str
        One of :data:`CONTRASTS`.
    halo : float
        Strength of the phase halo (0: none).
    halo_px : float
        Outer scale of the halo, pixels.
    psf_px : float
        Standard deviation of the in-focus point spread, pixels.
    defocus_px : float
        Radius of the defocus pillbox, pixels (0: in focus).
    falloff : float
        Relative loss of light at the image corners (0-0.5).
    axis : (y, x)
        Optical axis as a fraction of the image height and width.
    tilt : (ty, tx)
        Relative change of illumination from one side of the image to the other.
    photons : float
        Photoelectrons per pixel at intensity 1.
    read_noise : float
        Standard deviation of the read noise, relative intensity units.
    density_display : bool
        An ``inverted`` export shows optical density instead of inverted intensity.
    """

    contrast: str
    halo: float
    halo_px: float
    psf_px: float
    defocus_px: float
    falloff: float
    axis: tuple[float, float]
    tilt: tuple[float, float]
    photons: float
    read_noise: float
    density_display: bool = False


def random_optics(
    rng: np.random.Generator, *, contrast: str = "brightfield", cell_px: float = 8.0
) -> Optics:
    """Draw optics for one image.

    Parameters
    ----------
    rng : np.random.Generator
    contrast : str
        One of :data:`CONTRASTS`.
    cell_px : float
        Mean cell diameter in pixels: the halo and the defocus scale with it.
    """
    if contrast not in CONTRASTS:
        raise ValueError(f"contrast must be one of {CONTRASTS}, got {contrast!r}")
    halo = float(rng.uniform(0.15, 0.6)) if rng.random() < 0.35 else 0.0
    strong = rng.random() < 0.3
    defocus = float(rng.uniform(0.3, 0.9) if strong else rng.uniform(0.0, 0.25)) * cell_px
    return Optics(
        contrast=contrast,
        halo=halo if contrast != "darkfield" else 0.0,
        halo_px=float(rng.uniform(1.0, 4.0)) * cell_px,
        psf_px=float(rng.uniform(0.4, 1.0)),
        defocus_px=defocus,
        falloff=float(rng.uniform(0.0, 0.4)),
        axis=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
        tilt=(float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.15, 0.15))),
        photons=float(np.exp(rng.uniform(np.log(150.0), np.log(8000.0)))),
        read_noise=float(rng.uniform(0.002, 0.015)),
        density_display=bool(rng.random() < 0.5),
    )


def _pillbox(radius: float) -> FloatImage:
    half = int(np.ceil(radius))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    # Anti-aliased disc: coverage falls linearly over one pixel at the rim.
    disc = np.clip(radius + 0.5 - np.hypot(yy, xx), 0.0, 1.0)
    return np.asarray(disc / disc.sum(), np.float32)


def _illumination(shape: tuple[int, int], optics: Optics) -> FloatImage:
    h, w = shape
    yy = (np.arange(h, dtype=np.float32) / h - optics.axis[0])[:, None]
    xx = (np.arange(w, dtype=np.float32) / w - optics.axis[1])[None, :]
    r2 = (yy * yy + xx * xx) / 0.5  # about 1 in the corners of a centred axis
    radial = 1.0 - optics.falloff * r2 * r2**0.5
    plane = (
        1.0
        + optics.tilt[0] * (yy + optics.axis[0] - 0.5)
        + optics.tilt[1] * (xx + optics.axis[1] - 0.5)
    )
    return np.asarray(np.clip(radial * plane, 0.05, None), np.float32)


def form_image(density: FloatImage, optics: Optics, rng: np.random.Generator) -> FloatImage:
    """Relative intensity on the sensor, ``(Y, X)`` float32 (background about 1, or dark).

    Parameters
    ----------
    density : (Y, X) float32
        Optical density of the scene (natural log units; negative values brighten).
    optics : Optics
    rng : np.random.Generator
        Draws the noise.
    """
    t = np.exp(-np.clip(density, -1.0, 8.0)).astype(np.float32)
    if optics.contrast == "darkfield":
        soft = cv2.GaussianBlur(t, (0, 0), 1.5)
        edges = np.abs(t - soft)
        t = (0.08 + 0.9 * np.clip(1.0 - t, 0.0, 1.0) ** 0.8 + 2.5 * edges).astype(np.float32)
    if optics.halo > 0:
        dark = 1.0 - t
        wide = cv2.GaussianBlur(dark, (0, 0), optics.halo_px)
        narrow = cv2.GaussianBlur(dark, (0, 0), max(optics.halo_px / 6.0, 0.7))
        t = np.asarray(t + optics.halo * (wide - narrow), np.float32)
    t = np.asarray(cv2.GaussianBlur(t, (0, 0), optics.psf_px), np.float32)
    if optics.defocus_px > 0.5:
        kernel = _pillbox(optics.defocus_px)
        t = np.asarray(
            cv2.filter2D(t, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT), np.float32
        )
    light = np.clip(t, 0.0, None) * _illumination(density.shape[:2], optics)
    if optics.contrast == "inverted" and optics.density_display:
        background = max(float(np.median(light)), 1e-3)
        light = 0.05 + 0.35 * np.clip(-np.log(np.clip(light, 1e-3, None) / background), 0.0, None)
    elif optics.contrast == "inverted":
        light = np.clip(float(np.percentile(light, 99.5)) * 1.05 - light, 0.0, None) + 0.04
    counts = rng.poisson(light.astype(np.float64) * optics.photons) / optics.photons
    noisy = counts + rng.normal(0.0, optics.read_noise, light.shape)
    return np.asarray(np.clip(noisy, 0.0, None), np.float32)
