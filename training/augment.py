"""Train-time photometric augmentation that breaks the shortcut "spheroid = darkest pixels".

A network trained on one generator's images learns its look: the spheroid is the darkest,
sharpest-edged thing in the field. Real microscopes and exports differ: inverted contrast
(the spheroid brighter than the well), phase-contrast halos, other intensity curves, uneven
local contrast, blur, noise and JPEG blocks. Each crop goes through a random chain of such
changes; the mask never changes (all are photometric).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["photometric"]


def _curve(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random monotone intensity curve (piecewise linear through sorted random knots)."""
    knots = np.sort(rng.uniform(0.0, 1.0, int(rng.integers(2, 5))))
    xs = np.concatenate([[0.0], np.linspace(0.0, 1.0, knots.size + 2)[1:-1], [1.0]])
    ys = np.concatenate([[0.0], knots, [1.0]])
    return np.interp(x, xs, ys).astype(np.float32)


def _halo(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Phase-contrast-like halos: a bright rim around dark objects (unsharp difference)."""
    sigma = float(rng.uniform(2.0, 10.0))
    return x + float(rng.uniform(0.5, 2.0)) * (x - cv2.GaussianBlur(x, (0, 0), sigma))


def _local_contrast(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """CLAHE: local contrast equalisation, which flattens the core-to-border steps."""
    clahe = cv2.createCLAHE(clipLimit=float(rng.uniform(1.5, 4.0)), tileGridSize=(4, 4))
    u8 = np.clip(x * 255.0, 0, 255).astype(np.uint8)
    return clahe.apply(u8).astype(np.float32) / 255.0


def _shading(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative light change across the crop (uneven illumination)."""
    h, w = x.shape
    grid = rng.normal(1.0, 0.25, (3, 3)).astype(np.float32)
    return x * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _jpeg(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An 8-bit JPEG round trip (exports of some microscopes)."""
    u8 = np.clip(x * 255.0, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 90))])
    decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
    return x if decoded is None else decoded.astype(np.float32) / 255.0


def photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random chain of intensity changes of a crop; the geometry is untouched.

    Parameters
    ----------
    image : (Y, X) uint8
        A crop of a preprocessed image (the network's min-max 8-bit input).
    rng : numpy.random.Generator

    Returns
    -------
    (Y, X) uint8
        The changed crop, stretched back to the full 8-bit range where it shrank.
    """
    x: np.ndarray = image.astype(np.float32) / 255.0
    if rng.random() < 0.5:
        x = _curve(x, rng)
    if rng.random() < 0.3:
        x = _shading(x, rng)
    if rng.random() < 0.25:
        x = _halo(x, rng)
    if rng.random() < 0.2:
        x = _local_contrast(np.clip(x, 0.0, 1.0), rng)
    if rng.random() < 0.2:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.5, 2.0)))
    if rng.random() < 0.2:
        x = x + rng.normal(0.0, float(rng.uniform(0.01, 0.06)), x.shape).astype(np.float32)
    if rng.random() < 0.3:  # bright-on-dark: inverted exports, darkfield-like views
        x = 1.0 - x
    if rng.random() < 0.15:
        x = _jpeg(np.clip(x, 0.0, 1.0), rng)
    lo, hi = float(x.min()), float(x.max())
    if rng.random() < 0.5 and hi - lo > 1e-3:  # the network's input is min-max stretched
        x = (x - lo) / (hi - lo)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
