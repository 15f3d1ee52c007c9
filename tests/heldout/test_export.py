import numpy as np
import pytest

from hts.heldout.export import Annotation, burn_in, digitise, jpeg_round_trip, random_camera


def test_formats_give_their_dtypes_and_ranges() -> None:
    light = np.full((40, 50), 1.0, np.float32)
    light[10:20, 10:20] = 0.1
    for fmt, dtype, ndim in (
        ("uint16", np.uint16, 2),
        ("uint8", np.uint8, 2),
        ("rgb", np.uint8, 3),
    ):
        cam = random_camera(np.random.default_rng(0), image_format=fmt)
        img = digitise(light, cam)
        assert img.dtype == dtype and img.ndim == ndim
    narrow = digitise(light, random_camera(np.random.default_rng(1), image_format="uint16"))
    assert narrow.max() < 12000  # a narrow part of the 16-bit range
    rgb = digitise(light, random_camera(np.random.default_rng(2), image_format="rgb"))
    assert len({int(v) for v in rgb[0, 0]}) > 1  # tinted channels
    with pytest.raises(ValueError):
        random_camera(np.random.default_rng(0), image_format="float")


def test_drawn_formats_vary() -> None:
    formats = {random_camera(np.random.default_rng(s)).format for s in range(40)}
    assert formats == {"uint16", "uint8", "jpeg", "rgb"}


def test_jpeg_round_trip_has_artefacts_but_stays_close() -> None:
    rng = np.random.default_rng(0)
    img = np.clip(128 + rng.normal(0, 20, (64, 64)), 0, 255).astype(np.uint8)
    out, data = jpeg_round_trip(img, 70)
    assert out.shape == img.shape and data[:2] == b"\xff\xd8"
    diff = np.abs(out.astype(int) - img.astype(int))
    assert 0 < diff.mean() < 20
    colour, _ = jpeg_round_trip(np.stack([img, img, img // 2], axis=-1), 80)
    assert colour.shape == (64, 64, 3) and colour[..., 2].mean() < colour[..., 0].mean()


def test_burn_in_draws_bar_and_text() -> None:
    img = np.full((200, 300), 1000, np.uint16)
    note = Annotation(bar_px=(80, 6), bar_corner="br", text="500 um", text_corner="tl", white=True)
    out = burn_in(img, note)
    assert out.dtype == np.uint16 and out.max() > 1000
    assert (out[150:, 150:] > 1000).sum() >= 80 * 6  # the bar, bottom right
    assert (out[:40, :120] > 1000).any()  # the label, top left
    black = burn_in(
        np.full((200, 300), 200, np.uint8), Annotation((80, 6), "tl", "B07", "br", False)
    )
    assert black.min() == 0
