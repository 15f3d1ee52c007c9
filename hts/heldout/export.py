"""From relative intensity to the file's pixels: digitiser range, burned-in labels, JPEG, RGB.

Image formats (:data:`FORMATS`):

* ``uint16``: a 16-bit camera that uses a narrow part of its range (offset of a few hundred
  counts, background of a few thousand), as in the paper's Axiovert images;
* ``uint8``: an 8-bit export, background at 60-85 % of full scale, saturating where bright;
* ``jpeg``: the 8-bit export compressed as JPEG (quality 60-90) and decoded again, with
  its block artefacts; grey or colour;
* ``rgb``: an 8-bit colour export of a grey image: three channels, slightly tinted.

Colour images are ``(Y, X, 3)`` in R, G, B order. Burned-in annotations (scale bar, text)
are drawn white or black before any JPEG compression, as acquisition software does when
it exports an annotated image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "FORMATS",
    "Annotation",
    "Camera",
    "burn_in",
    "digitise",
    "jpeg_round_trip",
    "random_camera",
]

FloatImage = npt.NDArray[np.float32]

#: Image formats and how often each is drawn.
FORMATS = {"uint16": 0.35, "uint8": 0.25, "jpeg": 0.2, "rgb": 0.2}


@dataclass(frozen=True)
class Camera:
    """The digitiser and export settings of one image.

    Attributes
    ----------
    format : str
        One of :data:`FORMATS`.
    offset : float
        Counts at zero light.
    gain : float
        Counts per unit relative intensity.
    jpeg_quality : int
        JPEG quality (``jpeg`` format only).
    colour : bool
        Three channels (``rgb``, and some ``jpeg`` images).
    tint : (r, g, b)
        Channel gains of a colour export.
    """

    format: str
    offset: float
    gain: float
    jpeg_quality: int
    colour: bool
    tint: tuple[float, float, float]


@dataclass(frozen=True)
class Annotation:
    """A scale bar and a text label burned into the image.

    Attributes
    ----------
    bar_px : (length, thickness)
        Scale bar size, pixels.
    bar_corner : str
        ``"tl"``, ``"tr"``, ``"bl"`` or ``"br"``.
    text : str
        Label text (ASCII).
    text_corner : str
        Corner of the label.
    white : bool
        White (full scale) or black (zero) marks.
    """

    bar_px: tuple[int, int]
    bar_corner: str
    text: str
    text_corner: str
    white: bool


def random_camera(rng: np.random.Generator, *, image_format: str | None = None) -> Camera:
    """Draw a camera; ``image_format`` fixes the format (else drawn from :data:`FORMATS`)."""
    names = list(FORMATS)
    fmt = image_format or names[int(rng.choice(len(names), p=list(FORMATS.values())))]
    if fmt not in FORMATS:
        raise ValueError(f"image_format must be one of {names}, got {fmt!r}")
    if fmt == "uint16":
        offset = float(rng.uniform(100.0, 1500.0))
        gain = float(rng.uniform(1500.0, 9000.0))
    else:
        offset = float(rng.uniform(0.0, 20.0))
        gain = float(rng.uniform(150.0, 215.0)) - offset
    tint = tuple(float(v) for v in 1.0 + rng.uniform(-0.08, 0.08, 3))
    return Camera(
        format=fmt,
        offset=offset,
        gain=gain,
        jpeg_quality=int(rng.integers(60, 91)),
        colour=fmt == "rgb" or (fmt == "jpeg" and rng.random() < 0.3),
        tint=(tint[0], tint[1], tint[2]),
    )


def digitise(intensity: FloatImage, camera: Camera) -> npt.NDArray[np.uint8 | np.uint16]:
    """Quantise relative intensity to the camera's integer range.

    Returns
    -------
    (Y, X) uint16 or uint8, or (Y, X, 3) uint8 (R, G, B) for colour exports
    """
    top = 65535.0 if camera.format == "uint16" else 255.0
    counts = camera.offset + camera.gain * intensity.astype(np.float64)
    if camera.colour:
        counts = counts[..., None] * np.asarray(camera.tint)[None, None, :]
    out = np.clip(np.rint(counts), 0.0, top)
    return out.astype(np.uint16 if camera.format == "uint16" else np.uint8)


def _corner_origin(shape: tuple[int, int], size: tuple[int, int], corner: str) -> tuple[int, int]:
    """Top-left (x, y) of a ``size`` (w, h) box in ``corner`` with a margin of 3 % of the side."""
    margin = max(4, round(0.03 * min(shape)))
    x = margin if corner[1] == "l" else shape[1] - margin - size[0]
    y = margin if corner[0] == "t" else shape[0] - margin - size[1]
    return x, y


def burn_in(image: npt.NDArray[np.uint8 | np.uint16], note: Annotation) -> npt.NDArray:
    """A copy of ``image`` with the scale bar and label drawn in white or black (anti-aliased).

    Parameters
    ----------
    image : (Y, X) uint8/uint16 or (Y, X, 3) uint8
    note : Annotation

    Returns
    -------
    Same shape and dtype as ``image``.
    """
    shape = (image.shape[0], image.shape[1])
    # Drawn as 8-bit coverage first (OpenCV draws text on 8-bit images only), then blended.
    cover = np.zeros(shape, np.uint8)
    length, thick = note.bar_px
    x, y = _corner_origin(shape, (length, thick), note.bar_corner)
    cv2.rectangle(cover, (x, y), (x + length - 1, y + thick - 1), 255, thickness=-1)
    scale = max(0.4, min(shape) / 900.0)
    weight = max(1, round(2 * scale))
    (tw, th), base = cv2.getTextSize(note.text, cv2.FONT_HERSHEY_SIMPLEX, scale, weight)
    tx, ty = _corner_origin(shape, (tw, th + base), note.text_corner)
    cv2.putText(
        cover, note.text, (tx, ty + th), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, weight, cv2.LINE_AA
    )
    alpha = cover.astype(np.float64) / 255.0
    if image.ndim == 3:
        alpha = alpha[..., None]
    top = 0.0
    if note.white:
        # 8-bit: full scale. 16-bit: the top of a display range a little above the image's
        # brightest pixel, as viewer software burns in "white" (65535 would be far brighter).
        full = float(np.iinfo(image.dtype).max)
        top = full if image.dtype == np.uint8 else min(full, 1.25 * float(image.max()) + 1.0)
    out = image.astype(np.float64) * (1.0 - alpha) + top * alpha
    return np.rint(out).astype(image.dtype)


def jpeg_round_trip(
    image: npt.NDArray[np.uint8], quality: int
) -> tuple[npt.NDArray[np.uint8], bytes]:
    """Encode as JPEG at ``quality`` and decode again.

    Parameters
    ----------
    image : (Y, X) or (Y, X, 3) uint8 (R, G, B)
    quality : int
        JPEG quality, 0-100.

    Returns
    -------
    decoded : same shape, uint8
    encoded : bytes
        The JPEG file as written by OpenCV.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"JPEG needs uint8 pixels, got {image.dtype}")
    bgr = image[..., ::-1] if image.ndim == 3 else image
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the image as JPEG")
    flags = cv2.IMREAD_COLOR if image.ndim == 3 else cv2.IMREAD_GRAYSCALE
    decoded = cv2.imdecode(buf, flags)
    if decoded is None:
        raise RuntimeError("OpenCV could not decode its own JPEG")
    if image.ndim == 3:
        decoded = np.ascontiguousarray(decoded[..., ::-1])
    return np.asarray(decoded, np.uint8), buf.tobytes()
