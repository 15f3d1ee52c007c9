"""The closer look (``+zoom``): small or doubtful spheroids are seen again at twice the scale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hts.measure.qc import contour_margin
from hts.segment import SegmenterSpec
from hts.segment.network import NetworkSegmenter, ZoomRule, mode_suffix


class MinimumSizeEngine:
    """A stand-in network that calls dark pixels spheroid, but only in objects at least
    ``across`` pixels wide at its input (a morphological opening): it misses what is small
    at network resolution, as a network trained on larger spheroids does. Records the
    input shapes it was given."""

    name = "minimum-size"

    def __init__(self, across: int = 15) -> None:
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (across, across))
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        dark = [
            cv2.morphologyEx((b < 100).astype(np.uint8), cv2.MORPH_OPEN, self.kernel) for b in batch
        ]
        return np.stack(dark).astype(np.float32)


def _image(radius: int, shape: tuple[int, int] = (240, 320)) -> np.ndarray:
    """A dark disc of ``radius`` pixels at the centre of a bright, slightly grainy field."""
    rng = np.random.default_rng(5)
    image = np.clip(rng.normal(200.0, 4.0, shape), 0, 255).astype(np.uint8)
    cv2.circle(image, (shape[1] // 2, shape[0] // 2), radius, 40, thickness=-1)
    return image


def _segmenter(zoom: ZoomRule | None) -> tuple[NetworkSegmenter, MinimumSizeEngine]:
    engine = MinimumSizeEngine()
    return NetworkSegmenter(engine, "minimum-size", zoom=zoom), engine


def test_a_small_spheroid_missed_at_half_resolution_is_found_closer() -> None:
    image = _image(radius=11)  # 22 pixels across: 11 at the network's half resolution
    plain, _ = _segmenter(None)
    assert (plain.predict(image) >= 0.5).sum() == 0
    zoomed, engine = _segmenter(ZoomRule())
    found = zoomed.predict(image) >= 0.5
    truth = image < 100
    assert (found & truth).sum() / (found | truth).sum() > 0.85
    # the first look at half resolution, the second at full (padded to multiples of 32)
    assert [s[1:] for s in engine.shapes] == [(128, 160), (256, 320)]


def test_a_large_confident_spheroid_costs_one_pass() -> None:
    # 60 pixels across at half resolution: below the 80 of the rule, so it is looked at
    # again; a rule for smaller ones leaves it with one pass and the same map
    image = _image(radius=60)
    plain, _ = _segmenter(None)
    zoomed, engine = _segmenter(ZoomRule(small_below_px=40.0))
    assert np.array_equal(zoomed.predict(image), plain.predict(image))
    assert len(engine.shapes) == 1


def test_the_closer_look_is_kept_only_when_at_least_as_confident() -> None:
    class Blurred(MinimumSizeEngine):
        """Finds the disc at any size, less sure of it the more pixels it has."""

        def predict(self, batch: np.ndarray) -> np.ndarray:
            self.shapes.append(batch.shape)
            sure = 0.95 if batch.shape[1] < 200 else 0.6
            return np.where(batch < 100, sure, 0.0).astype(np.float32)

    engine = Blurred()
    segmenter = NetworkSegmenter(engine, "blurred", zoom=ZoomRule())
    probability = segmenter.predict(_image(radius=20))
    assert len(engine.shapes) == 2  # small (20 across at half resolution): looked again
    assert probability.max() == pytest.approx(0.95)  # but the first look was surer


def test_large_images_are_zoomed_less_and_never_below_the_first_scale() -> None:
    image = _image(radius=11, shape=(600, 800))
    engine = MinimumSizeEngine()
    rule = ZoomRule(max_pixels=300 * 400 * 2)  # allows 0.707 of the image's size, not 1
    NetworkSegmenter(engine, "minimum-size", zoom=rule).predict(image)
    assert [s[1:] for s in engine.shapes] == [(320, 416), (448, 576)]
    engine = MinimumSizeEngine()
    NetworkSegmenter(engine, "minimum-size", zoom=ZoomRule(max_pixels=300 * 400)).predict(image)
    assert len(engine.shapes) == 1  # 0.5 allowed: no closer look than the first


def test_zoom_is_part_of_the_setting_and_its_model_id() -> None:
    spec = SegmenterSpec.parse("unet@0.6+tta+zoom+pol")
    assert (spec.scale, spec.flip_average, spec.zoom, spec.polarity) == (0.6, True, True, True)
    assert str(spec) == "unet@0.6+tta+zoom+pol"
    assert spec.model_id.endswith("@0.6+tta+zoom+pol")
    assert (
        SegmenterSpec.parse("unet+zoom").model_id == SegmenterSpec.parse("unet").model_id + "+zoom"
    )
    assert not SegmenterSpec.parse("unet+pol").zoom
    assert mode_suffix(scale=None, flip_average=False, zoom=True) == "+zoom"
    with pytest.raises(ValueError, match="unknown segmenter"):
        SegmenterSpec.parse("unet+pol+zoom")  # the suffixes have one order


def test_near_looks_closer_only_in_a_window_around_the_spheroid() -> None:
    # 40 pixels across (20 at half resolution): found by the first look, but small
    image = _image(radius=20, shape=(600, 800))
    engine = MinimumSizeEngine()
    near = NetworkSegmenter(engine, "minimum-size", zoom=ZoomRule.near())
    found = near.predict(image) >= 0.5
    # the first look at half resolution, the second at full in a 256-pixel square (the
    # least window; twice the 41 pixels of the box would be less), not the whole image
    assert [s[1:] for s in engine.shapes] == [(320, 416), (256, 256)]
    truth = image < 100
    assert (found & truth).sum() / (found | truth).sum() > 0.85


def test_near_does_not_look_again_where_the_first_look_found_nothing() -> None:
    image = _image(radius=11, shape=(600, 800))  # 11 across at half resolution: missed
    engine = MinimumSizeEngine()
    found = NetworkSegmenter(engine, "minimum-size", zoom=ZoomRule.near()).predict(image) >= 0.5
    assert [s[1:] for s in engine.shapes] == [(320, 416)]
    assert not found.any()  # +zoom, the whole image's closer look, finds it (above)


def test_where_the_looks_disagree_qc_sees_doubt() -> None:
    """The closer look's outline is kept, but the band where it differs from the first
    look's is near 0.5, so QC's low_confidence (the margin along the border) sees that
    the two looks did not agree; elsewhere the first look's certainty stays."""
    image = _image(radius=20, shape=(600, 800))
    engine = MinimumSizeEngine()
    first = NetworkSegmenter(engine, "minimum-size").predict(image)
    near = NetworkSegmenter(MinimumSizeEngine(), "minimum-size", zoom=ZoomRule.near())
    out = near.predict(image)
    moved = (out >= 0.5) != (first >= 0.5)
    assert moved.any()  # the closer look's outline differs from the first look's
    assert (np.abs(out[moved] - 0.5) < 0.01).all()
    np.testing.assert_allclose(out[~moved], first[~moved], atol=1e-3)
    assert contour_margin(out, out >= 0.5) < contour_margin(first, first >= 0.5)


def test_the_window_stays_inside_the_image() -> None:
    rule = ZoomRule.near()
    # a 200-pixel box in the corner: 400 wide, moved inside rather than cut
    rows, cols = rule.window_box((0, 0, 200, 200), (1000, 1200))
    assert (rows, cols) == (slice(0, 400), slice(0, 400))
    rows, cols = rule.window_box((1150, 950, 50, 50), (1000, 1200))
    assert (rows, cols) == (slice(744, 1000), slice(944, 1200))
    # larger than the image: the whole image
    assert rule.window_box((10, 10, 150, 150), (200, 300)) == (slice(0, 200), slice(0, 300))
    assert ZoomRule().window_box((0, 0, 5, 5), (20, 30)) == (slice(0, 20), slice(0, 30))


def test_near_is_part_of_the_setting_and_its_model_id() -> None:
    spec = SegmenterSpec.parse("unet+near+edge")
    assert (spec.near, spec.zoom, spec.edge) == (True, False, True)
    assert str(spec) == "unet+near+edge"
    assert spec.model_id == SegmenterSpec.parse("unet").model_id + "+near+edge"
    with pytest.raises(ValueError, match="unknown segmenter"):
        SegmenterSpec.parse("unet+zoom+near")  # one closer look or the other
    with pytest.raises(ValueError, match="whole image"):
        mode_suffix(scale=None, flip_average=False, zoom=True, near=True)
