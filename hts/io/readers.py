"""Reading microscope image files: TIFF (8/16-bit), PNG and JPEG.

Each reader returns the pixels with their original dtype plus what the file says about
itself (pixel size, acquisition time). Every failure raises :class:`ImageReadError`,
which names the file and the problem in words a scientist can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGE_SUFFIXES",
    "SUPPORTED_DTYPES",
    "ImageData",
    "ImageHeader",
    "ImageReadError",
    "read_header",
    "read_image",
    "rgb_to_gray",
]

IMAGE_SUFFIXES = frozenset({".tif", ".tiff", ".png", ".jpg", ".jpeg"})
SUPPORTED_DTYPES = frozenset({np.dtype(np.uint8), np.dtype(np.uint16)})
#: ITU-R BT.601 luma weights, the same as OpenCV's and Pillow's RGB -> grey.
_LUMA = np.array([0.299, 0.587, 0.114])
_UM_PER_UNIT = {2: 25_400.0, 3: 10_000.0}  # TIFF ResolutionUnit: 2 inch, 3 centimetre
_OME_PHYSICAL_X = re.compile(r'PhysicalSizeX="([0-9.eE+-]+)"')


class ImageReadError(Exception):
    """A file could not be used as a brightfield image; ``reason`` says why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class ImageHeader:
    """What a file says about its image without decoding the pixels.

    ``shape`` is ``(Y, X)`` after any colour conversion; ``channels`` is 1 for grey, 3/4
    for RGB(A) files, which are converted to grey on reading.
    """

    shape: tuple[int, int]
    dtype: np.dtype
    channels: int
    pixel_size_um: float | None
    acquired_at: datetime | None


@dataclass(frozen=True)
class ImageData:
    """Decoded pixels ``(Y, X)`` in the original dtype, plus the header they came with."""

    pixels: np.ndarray
    header: ImageHeader
    #: Empty when the file was already single-channel grey; else how it was converted.
    conversion: str


def rgb_to_gray(pixels: np.ndarray) -> np.ndarray:
    """(Y, X, 3|4) RGB(A) -> (Y, X) grey with BT.601 weights, keeping the integer dtype."""
    luma = pixels[..., :3].astype(np.float32) @ _LUMA.astype(np.float32)
    info = np.iinfo(pixels.dtype)
    return np.clip(np.rint(luma), info.min, info.max).astype(pixels.dtype)


def _check_dtype(path: Path, dtype: np.dtype) -> None:
    if dtype not in SUPPORTED_DTYPES:
        raise ImageReadError(path, f"unsupported pixel type {dtype} (expected uint8 or uint16)")


def _split_shape(path: Path, shape: tuple[int, ...]) -> tuple[tuple[int, int], int]:
    dims = tuple(d for d in shape if d != 1) if len(shape) > 2 else shape
    if len(dims) == 2:
        return (int(dims[0]), int(dims[1])), 1
    if len(dims) == 3 and dims[-1] in (3, 4):
        return (int(dims[0]), int(dims[1])), int(dims[-1])
    raise ImageReadError(
        path, f"expected one 2-D grey or RGB image, found an array of shape {shape}"
    )


def _tiff_pixel_size_um(tif: object, page: object) -> float | None:
    ome = getattr(tif, "ome_metadata", None)
    if ome:
        match = _OME_PHYSICAL_X.search(ome)
        if match:
            return float(match.group(1))
    tags = page.tags  # type: ignore[attr-defined]
    if "XResolution" not in tags:
        return None
    num, den = tags["XResolution"].value
    if num == 0 or den == 0:
        return None
    pixels_per_unit = num / den
    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    imagej = getattr(tif, "imagej_metadata", None) or {}
    if imagej.get("unit") in ("micron", "um", "\u00b5m"):
        return 1.0 / pixels_per_unit
    if unit in _UM_PER_UNIT and pixels_per_unit > 1.0:
        # TIFF writers put a 72 or 96 dpi placeholder when they know nothing.
        if unit == 2 and pixels_per_unit in (72.0, 96.0, 300.0):
            return None
        return _UM_PER_UNIT[unit] / pixels_per_unit
    return None


def _tiff_datetime(page: object) -> datetime | None:
    tag = page.tags.get("DateTime")  # type: ignore[attr-defined]
    if tag is None:
        return None
    try:
        return datetime.strptime(str(tag.value).strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _tiff_header(path: Path, tif: object) -> tuple[ImageHeader, object]:
    pages = tif.pages  # type: ignore[attr-defined]
    if len(pages) == 0:
        raise ImageReadError(path, "TIFF file holds no image")
    if len(pages) > 1:
        raise ImageReadError(
            path, f"TIFF file holds {len(pages)} images (a stack); expected a single image"
        )
    page = pages[0]
    dtype = np.dtype(page.dtype)
    _check_dtype(path, dtype)
    shape, channels = _split_shape(path, tuple(page.shape))
    size = path.stat().st_size
    ends = [o + c for o, c in zip(page.dataoffsets, page.databytecounts, strict=False)]
    if ends and max(ends) > size:
        raise ImageReadError(
            path, f"file is truncated: image data needs {max(ends)} bytes, file has {size}"
        )
    header = ImageHeader(
        shape, dtype, channels, _tiff_pixel_size_um(tif, page), _tiff_datetime(page)
    )
    return header, page


def _pillow_open(path: Path) -> object:
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not a readable PNG/JPEG image (unknown format)") from exc


def _pillow_header(path: Path, img: object) -> ImageHeader:
    mode = img.mode  # type: ignore[attr-defined]
    width, height = img.size  # type: ignore[attr-defined]
    modes = {
        "L": (np.uint8, 1), "RGB": (np.uint8, 3), "RGBA": (np.uint8, 4),
        "I;16": (np.uint16, 1), "I;16B": (np.uint16, 1), "I": (np.uint16, 1),
    }  # fmt: skip
    if mode not in modes:
        raise ImageReadError(path, f"unsupported image mode {mode!r} (expected grey or RGB)")
    dtype, channels = modes[mode]
    dpi = img.info.get("dpi")  # type: ignore[attr-defined]
    pixel_size = None
    if dpi and float(dpi[0]) > 0 and float(dpi[0]) not in (72.0, 96.0, 300.0):
        pixel_size = 25_400.0 / float(dpi[0])
    return ImageHeader((height, width), np.dtype(dtype), channels, pixel_size, None)


def _read(path: Path, *, decode: bool) -> tuple[ImageHeader, np.ndarray | None]:
    """Header, and pixels as stored when ``decode``; every failure is an ImageReadError."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageReadError(path, f"unsupported file type {suffix!r}")
    pixels = None
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                header, page = _tiff_header(path, tif)
                if decode:
                    pixels = np.asarray(page.asarray())  # type: ignore[attr-defined]
        else:
            with _pillow_open(path) as img:  # type: ignore[attr-defined]
                header = _pillow_header(path, img)
                if decode:
                    img.load()
                    pixels = np.asarray(img).astype(header.dtype, copy=False)
    except ImageReadError:
        raise
    except Exception as exc:
        action = "decode image" if decode else "read image header"
        raise ImageReadError(path, f"cannot {action} ({type(exc).__name__}: {exc})") from exc
    return header, pixels


def read_header(path: Path | str) -> ImageHeader:
    """Read shape, dtype and metadata of an image file without decoding its pixels.

    Raises
    ------
    ImageReadError
        Unreadable, truncated, stacked, or of an unsupported type or shape.
    """
    return _read(Path(path), decode=False)[0]


def read_image(path: Path | str) -> ImageData:
    """Decode an image file to ``(Y, X)`` pixels in their original dtype (uint8 or uint16).

    RGB(A) files are converted to grey (BT.601 luma) and the conversion is recorded.

    Raises
    ------
    ImageReadError
        Unreadable, truncated, or of an unsupported type or shape.
    """
    header, pixels = _read(Path(path), decode=True)
    assert pixels is not None
    pixels = (
        pixels.reshape(*header.shape, header.channels)
        if header.channels > 1
        else (pixels.reshape(header.shape))
    )
    conversion = ""
    if header.channels > 1:
        pixels = rgb_to_gray(pixels)
        conversion = f"{'RGBA' if header.channels == 4 else 'RGB'} to grey (BT.601 luma)"
    return ImageData(np.ascontiguousarray(pixels), header, conversion)
