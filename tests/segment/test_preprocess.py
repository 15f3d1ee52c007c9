"""The paper's preprocessing and its inverse."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, integer_dtypes, unsigned_integer_dtypes

from hts.measure.metrics import jaccard_distance
from hts.segment.preprocess import (
    PreprocessConfig,
    minmax_to_uint8,
    pad_to_multiple,
    preprocess,
    resize,
    restore_mask,
    restore_probability,
    scaled_shape,
    to_gray,
    unpad,
)


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(y - centre[0], x - centre[1]) <= radius


def test_minmax_maps_narrow_uint16_range_to_full_uint8() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(1200, 1900, size=(103, 130), dtype=np.uint16)
    out = minmax_to_uint8(image)
    assert out.dtype == np.uint8
    assert out.shape == image.shape
    assert out.min() == 0
    assert out.max() == 255
    assert out[image == image.min()].max() == 0
    assert out[image == image.max()].min() == 255


def test_minmax_of_constant_image_is_zero() -> None:
    np.testing.assert_array_equal(minmax_to_uint8(np.full((4, 5), 700.0)), np.zeros((4, 5)))


def test_minmax_of_float_image_is_linear() -> None:
    image = np.array([[-1.0, 0.0], [1.0, 3.0]])
    np.testing.assert_array_equal(minmax_to_uint8(image), [[0, 64], [128, 255]])
    with pytest.raises(ValueError, match="NaN"):
        minmax_to_uint8(np.array([[0.0, np.nan]]))


@settings(max_examples=100, deadline=None)
@given(
    arrays(
        st.one_of(unsigned_integer_dtypes(), integer_dtypes()),
        st.tuples(st.integers(1, 12), st.integers(1, 12)),
    )
)
def test_minmax_range_and_order(image: np.ndarray) -> None:
    out = minmax_to_uint8(image)
    assert out.dtype == np.uint8
    if image.min() == image.max():
        assert not out.any()
    else:
        assert (out.min(), out.max()) == (0, 255)
    # Monotone: a brighter input pixel is never darker in the output.
    order = np.argsort(image, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)


def test_to_gray_uses_bt601_weights_and_keeps_dtype() -> None:
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[1, 0] = (0, 0, 255)
    rgb[1, 1] = (255, 255, 255)
    gray = to_gray(rgb)
    assert gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, [[76, 150], [29, 255]])
    rgba = np.concatenate([rgb, np.zeros((2, 2, 1), dtype=np.uint8)], axis=2)
    np.testing.assert_array_equal(to_gray(rgba), gray)
    as16 = to_gray(rgb.astype(np.uint16) * 257)
    assert as16.dtype == np.uint16
    assert as16[1, 1] == 65535
    as_float = to_gray(rgb.astype(np.float32) / 255)
    assert as_float.dtype == np.float32
    assert as_float[0, 1] == pytest.approx(0.587)


def test_to_gray_passes_gray_through_and_rejects_other_shapes() -> None:
    gray = np.arange(6, dtype=np.uint16).reshape(2, 3)
    assert to_gray(gray) is gray
    with pytest.raises(ValueError, match="expected"):
        to_gray(np.zeros((2, 2, 2)))


def test_resize_by_half_averages_blocks() -> None:
    image = np.arange(4 * 6, dtype=np.float32).reshape(4, 6)
    half = resize(image, scale=0.5)
    np.testing.assert_allclose(half, image.reshape(2, 2, 3, 2).mean(axis=(1, 3)))
    assert resize(np.zeros((1030, 1300), dtype=np.uint16), scale=0.5).shape == (515, 650)
    assert resize(np.zeros((10, 10), dtype=np.uint8), scale=2.0).shape == (20, 20)
    assert scaled_shape((3, 3), scale=0.01) == (1, 1)
    with pytest.raises(ValueError, match="scale"):
        resize(image, scale=0.0)


@pytest.mark.parametrize("shape", [(515, 650), (64, 96), (1, 1), (33, 31)])
def test_pad_makes_shapes_divisible_and_unpad_inverts(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, size=shape, dtype=np.uint8)
    padded, pads = pad_to_multiple(image)
    assert padded.shape[0] % 32 == 0
    assert padded.shape[1] % 32 == 0
    assert padded.shape == (shape[0] + pads[0], shape[1] + pads[1])
    assert all(0 <= p < 32 for p in pads)
    assert padded.dtype == image.dtype
    np.testing.assert_array_equal(unpad(padded, pads), image)


def test_pad_reflects_without_repeating_the_edge() -> None:
    image = np.arange(5, dtype=np.uint8)[None, :].repeat(2, axis=0)
    padded, pads = pad_to_multiple(image, multiple=4)
    assert pads == (2, 3)
    np.testing.assert_array_equal(padded[0], [0, 1, 2, 3, 4, 3, 2, 1])
    np.testing.assert_array_equal(padded[3], padded[1])


def test_pad_keeps_channels() -> None:
    padded, pads = pad_to_multiple(np.zeros((5, 7, 3)), multiple=8)
    assert padded.shape == (8, 8, 3)
    assert unpad(padded, pads).shape == (5, 7, 3)
    with pytest.raises(ValueError, match="pads"):
        unpad(np.zeros((4, 4)), (4, 0))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 80), st.integers(1, 80), st.integers(1, 40))
def test_pad_round_trip(height: int, width: int, multiple: int) -> None:
    image = np.arange(height * width, dtype=np.int32).reshape(height, width)
    padded, pads = pad_to_multiple(image, multiple=multiple)
    assert padded.shape[0] % multiple == 0
    assert padded.shape[1] % multiple == 0
    np.testing.assert_array_equal(unpad(padded, pads), image)


def test_preprocess_gives_uint8_network_input() -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(1000, 1400, size=(1030, 1300), dtype=np.uint16)
    config = PreprocessConfig()
    net = preprocess(image, config)
    assert net.dtype == np.uint8
    assert net.shape == config.network_shape(image.shape) == (544, 672)
    rgb = np.repeat(image[..., None], 3, axis=2)
    np.testing.assert_array_equal(preprocess(rgb, config), net)
    full = preprocess(image, PreprocessConfig(scale=1.0, multiple=32))
    assert full.shape == (1056, 1312)
    with pytest.raises(ValueError, match="scale"):
        PreprocessConfig(scale=-1.0)


@pytest.mark.parametrize("shape", [(1030, 1300), (517, 651)])
def test_restore_mask_inverts_preprocessing_geometry(shape: tuple[int, int]) -> None:
    config = PreprocessConfig()
    truth = disk(shape, (shape[0] * 0.4, shape[1] * 0.6), shape[0] / 6)
    # What a perfect network would output on the network grid.
    low = resize(truth.astype(np.float32), scale=config.scale)
    probability, _ = pad_to_multiple(low, multiple=config.multiple)
    restored = restore_probability(probability, original_shape=shape, config=config)
    assert restored.dtype == np.float32
    assert restored.shape == shape
    mask = restore_mask(probability, original_shape=shape, config=config)
    assert mask.dtype == np.bool_
    assert jaccard_distance(mask, truth) < 0.02
    with pytest.raises(ValueError, match="network shape"):
        restore_mask(probability[:-1], original_shape=shape, config=config)


@pytest.mark.parametrize("scale", [0.5, 0.6])
def test_restored_outline_has_the_true_perimeter(scale: float) -> None:
    """A confident (binary) network map enlarged back must not leave stairs of network
    pixels in the outline: perimeter and circularity as measured on the true disk."""
    from hts.measure.morphometrics import measure_mask
    from hts.measure.qc import contour_margin

    shape = (1030, 1300)
    config = PreprocessConfig(scale=scale)
    truth = disk(shape, (500.0, 640.0), 180.0)
    low = (resize(truth.astype(np.float32), scale=scale) >= 0.5).astype(np.float32)
    probability, _ = pad_to_multiple(low, multiple=config.multiple)
    mask = restore_mask(probability, original_shape=shape, config=config)
    found, true = measure_mask(mask, pixel_size_um=1.0), measure_mask(truth, pixel_size_um=1.0)
    # a crisp network map stays crisp along the border: QC's contour margin is not
    # lowered by the smoothing of the outline (it once flagged every image)
    restored = restore_probability(probability, original_shape=shape, config=config)
    plain = cv2.resize(low, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    assert contour_margin(restored, mask) == pytest.approx(contour_margin(plain, mask), abs=0.05)
    assert contour_margin(restored, mask) > 0.5  # qc_flags' default min_margin
    assert found.perimeter_um == pytest.approx(true.perimeter_um, rel=0.02)
    assert found.circularity == pytest.approx(true.circularity, rel=0.03)
    assert found.area_um2 == pytest.approx(true.area_um2, rel=0.01)


def test_restore_leaves_no_subnormal_numbers() -> None:
    """A confident fp32 softmax has subnormal probabilities far from the spheroid; left in,
    they run through the resize and smoothing on the CPU's slow path (4-10x slower)."""
    shape = (1030, 1300)
    config = PreprocessConfig()
    y, x = np.mgrid[: config.network_shape(shape)[0], : config.network_shape(shape)[1]]
    logit = (150.0 - np.hypot(y - 250.0, x - 300.0)) / 1.5
    probability = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    tiny = np.finfo(np.float32).tiny
    assert ((probability > 0) & (probability < tiny)).any()  # the case in point
    restored = restore_probability(probability, original_shape=shape, config=config)
    assert not ((restored > 0) & (restored < tiny)).any()
    assert restored.min() >= 0.0
    plain = restore_mask(np.where(probability < 1e-20, 0, probability), original_shape=shape)
    np.testing.assert_array_equal(restored >= 0.5, plain)


def _restore_whole_image(
    probability: np.ndarray, shape: tuple[int, int], scale: float
) -> np.ndarray:
    """The outline smoothing as first written: the Gaussian over the whole image."""
    config = PreprocessConfig(scale=scale)
    resized = scaled_shape(shape, scale=scale)
    pads = (probability.shape[0] - resized[0], probability.shape[1] - resized[1])
    low = np.maximum(unpad(probability, pads), np.float32(1e-20))
    full = cv2.resize(np.ascontiguousarray(low), shape[::-1], interpolation=cv2.INTER_LINEAR)
    smooth = cv2.GaussianBlur(full, (0, 0), sigmaX=1.0 / config.scale)
    cross = (smooth >= 0.5) != (full >= 0.5)
    mirrored = np.float32(1.0) - full[cross]
    mirrored[mirrored == 0.5] = np.nextafter(np.float32(0.5), np.float32(0.0))
    full[cross] = mirrored
    return full


@pytest.mark.parametrize("scale", [0.3, 0.5, 0.6, 0.75])
@pytest.mark.parametrize("seed", range(6))
def test_smoothing_only_the_outline_window_equals_smoothing_everything(
    scale: float, seed: int
) -> None:
    """`restore_probability` blurs only a window around the outline; the result must be
    the same, bit for bit, as blurring the whole image (blobs anywhere, at the borders,
    specks of one network pixel, values of exactly 0.5, uniform maps)."""
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(150, 400)), int(rng.integers(150, 400)))
    config = PreprocessConfig(scale=scale)
    net = config.network_shape(shape)
    kind = seed % 3
    if kind == 0:  # smooth blobs, some cut by the borders
        noise = cv2.GaussianBlur(rng.normal(size=net).astype(np.float32), (0, 0), 4.0)
        probability = 1.0 / (1.0 + np.exp(-noise / max(float(noise.std()), 1e-6) * 3.0))
    elif kind == 1:  # a crisp disk plus specks of a single network pixel
        y, x = np.mgrid[: net[0], : net[1]]
        centre = rng.uniform(0, net[0]), rng.uniform(0, net[1])
        probability = (np.hypot(y - centre[0], x - centre[1]) < net[0] / 4).astype(np.float32)
        specks = rng.integers(0, net[0], 5), rng.integers(0, net[1], 5)
        probability[specks] = 1.0 - probability[specks]
        probability[rng.random(net) < 0.01] = 0.5
    else:  # one speck near a corner only
        probability = np.zeros(net, np.float32)
        probability[int(rng.integers(0, 3)), int(rng.integers(0, 3))] = 0.9
    probability = probability.astype(np.float32)
    np.testing.assert_array_equal(
        restore_probability(probability, original_shape=shape, config=config),
        _restore_whole_image(probability, shape, scale),
    )
    for value in (0.0, 1.0):  # all one side: nothing to smooth
        uniform = np.full(net, value, np.float32)
        np.testing.assert_array_equal(
            restore_probability(uniform, original_shape=shape, config=config),
            _restore_whole_image(uniform, shape, scale),
        )


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.integers(1, 40),
    st.sampled_from(["uint8", "uint16", "int16", "float32", "float64", "int32", "bool"]),
    st.sampled_from([(), (3,), (4,), (5,)]),
)
def test_pad_is_numpy_reflect(
    height: int, width: int, multiple: int, dtype: str, channels: tuple[int, ...]
) -> None:
    """OpenCV pads where it can (one pass), numpy elsewhere: the same pixels either way."""
    rng = np.random.default_rng(height * 100 + width)
    image = (rng.random((height, width, *channels)) * 200).astype(dtype)
    padded, pads = pad_to_multiple(image, multiple=multiple)
    width_ = [(0, pads[0]), (0, pads[1])] + [(0, 0)] * len(channels)
    expected = np.pad(image, width_, mode="reflect")
    assert padded.dtype == image.dtype
    np.testing.assert_array_equal(padded, expected)


@settings(max_examples=200, deadline=None)
@given(arrays(st.sampled_from([np.uint8, np.uint16, np.int16]), st.integers(2, 400)))
def test_minmax_needs_no_clip(image: np.ndarray) -> None:
    """Rounded in place without a clip: the values of the clipped formula, exactly."""
    lo, hi = float(image.min()), float(image.max())
    if hi == lo:
        return
    scaled = (image.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    expected = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(minmax_to_uint8(image), expected)
