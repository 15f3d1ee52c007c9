from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from hts.io.readers import ImageReadError, read_header, read_image


def _tiff(path: Path, data: np.ndarray, **kwargs: object) -> Path:
    tifffile.imwrite(path, data, **kwargs)
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tiff_keeps_dtype_pixel_size_and_time(tmp_path: Path, dtype: type) -> None:
    data = (np.arange(60 * 80).reshape(60, 80) % 250).astype(dtype)
    path = _tiff(
        tmp_path / "a.tif",
        data,
        resolution=(1e4 / 1.3, 1e4 / 1.3),
        resolutionunit="CENTIMETER",
        datetime=datetime(2026, 3, 2, 9, 30),
    )
    image = read_image(path)
    assert image.pixels.dtype == dtype
    np.testing.assert_array_equal(image.pixels, data)
    assert image.header.pixel_size_um == pytest.approx(1.3)
    assert image.header.acquired_at == datetime(2026, 3, 2, 9, 30)
    assert image.conversion == ""


def test_tiff_without_resolution_has_no_pixel_size(tmp_path: Path) -> None:
    path = _tiff(tmp_path / "a.tif", np.zeros((8, 8), np.uint16))
    assert read_header(path).pixel_size_um is None


def test_rgb_is_converted_to_grey_and_recorded(tmp_path: Path) -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 1] = 200
    path = tmp_path / "rgb.png"
    cv2.imwrite(str(path), rgb[..., ::-1])  # OpenCV writes BGR
    image = read_image(path)
    assert image.pixels.shape == (20, 30)
    assert image.pixels.dtype == np.uint8
    assert int(image.pixels[0, 0]) == round(0.587 * 200)
    assert "grey" in image.conversion


def test_png_16_bit(tmp_path: Path) -> None:
    data = np.full((10, 12), 40000, np.uint16)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), data)
    image = read_image(path)
    assert image.pixels.dtype == np.uint16
    assert int(image.pixels.max()) == 40000


def test_truncated_tiff_is_named(tmp_path: Path) -> None:
    good = _tiff(tmp_path / "good.tif", np.ones((200, 200), np.uint16))
    bad = tmp_path / "bad.tif"
    bad.write_bytes(good.read_bytes()[:30000])
    with pytest.raises(ImageReadError, match="truncated") as info:
        read_header(bad)
    assert info.value.path.endswith("bad.tif")


@pytest.mark.parametrize("suffix", [".tif", ".png", ".jpg"])
def test_garbage_files_raise(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(b"this is not an image" * 10)
    with pytest.raises(ImageReadError):
        read_image(path)


def test_truncated_jpeg_raises(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), rng.integers(0, 255, (200, 200), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ImageReadError, match="decode"):
        read_image(path)


def test_float_and_stacks_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="unsupported pixel type float32"):
        read_header(_tiff(tmp_path / "f.tif", np.zeros((8, 8), np.float32)))
    with pytest.raises(ImageReadError, match=r"stack|shape"):
        read_header(
            _tiff(tmp_path / "s.tif", np.zeros((3, 8, 8), np.uint16), photometric="minisblack")
        )


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "a.bmp"
    path.write_bytes(b"BM")
    with pytest.raises(ImageReadError, match="unsupported file type"):
        read_header(path)
