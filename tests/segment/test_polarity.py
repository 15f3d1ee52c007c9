"""The polarity check (``+pol``): doubtful images are also seen inverted."""

from __future__ import annotations

import cv2
import numpy as np

from hts.segment import SegmenterSpec
from hts.segment.network import NetworkSegmenter, PolarityRule, mode_suffix


class DarknessEngine:
    """A stand-in network that calls dark pixels spheroid: it sees only one polarity,
    as a network trained on brightfield images does. Counts the images it was given."""

    name = "darkness"

    def __init__(self) -> None:
        self.seen = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.seen += len(batch)
        x = batch.astype(np.float32) / 255.0
        return np.clip(1.5 - 2.0 * x, 0.0, 1.0).astype(np.float32)  # dark -> 1, mid -> 0.5


def _image(*, bright_on_dark: bool, radius: int = 30) -> np.ndarray:
    """A disc of ``radius`` at (100, 130) on a 200 x 260 field of grainy background.

    Dark-on-light, the disc is the one dark thing. Bright-on-dark, the one-polarity network
    takes the grainy background for spheroid, with middling confidence.
    """
    rng = np.random.default_rng(3)
    grain = cv2.GaussianBlur(rng.uniform(0.0, 1.0, (200, 260)).astype(np.float32), (0, 0), 3)
    grain = (grain - grain.min()) / (grain.max() - grain.min())
    image = np.rint(20.0 + 110.0 * grain).astype(np.uint8)  # dark, grainy background
    cv2.circle(image, (130, 100), radius, 230, thickness=-1)  # bright spheroid
    return image if bright_on_dark else 255 - image


def _segmenter(polarity: bool) -> tuple[NetworkSegmenter, DarknessEngine]:
    engine = DarknessEngine()
    rule = PolarityRule() if polarity else None
    return NetworkSegmenter(engine, "darkness", polarity=rule), engine


def _disc() -> np.ndarray:
    disc = np.zeros((200, 260), np.uint8)
    cv2.circle(disc, (130, 100), 30, 1, thickness=-1)
    return disc.astype(bool)


def test_a_confident_image_costs_one_pass_and_keeps_its_map() -> None:
    plain, _ = _segmenter(polarity=False)
    checked, engine = _segmenter(polarity=True)
    image = _image(bright_on_dark=False)
    expected = plain.predict(image, pixel_size_um=2.0)
    got = checked.predict(image, pixel_size_um=2.0)
    assert engine.seen == 1 and np.array_equal(got, expected)
    assert ((got >= 0.5) == _disc()).mean() > 0.99


def test_a_bright_spheroid_is_found_in_the_inverted_look() -> None:
    plain, _ = _segmenter(polarity=False)
    checked, engine = _segmenter(polarity=True)
    image = _image(bright_on_dark=True)
    first = plain.predict(image, pixel_size_um=2.0) >= 0.5
    assert (first & _disc()).sum() < 0.05 * _disc().sum()  # one polarity misses it
    got = checked.predict(image, pixel_size_um=2.0) >= 0.5
    assert engine.seen == 2
    assert (got & _disc()).sum() / (got | _disc()).sum() > 0.9


def test_a_bright_disc_filling_the_frame_is_not_taken_for_the_spheroid() -> None:
    """Inverted, the bright inside of a whole well is a large confident disc: the first
    look is kept (and stays doubtful for QC)."""
    plain, _ = _segmenter(polarity=False)
    checked, engine = _segmenter(polarity=True)
    image = _image(bright_on_dark=True, radius=95)  # about half the frame
    got = checked.predict(image, pixel_size_um=2.0)
    assert engine.seen == 2
    assert np.array_equal(got, plain.predict(image, pixel_size_um=2.0))


def test_batches_mix_both_and_only_doubtful_images_pass_twice() -> None:
    checked, engine = _segmenter(polarity=True)
    images = [_image(bright_on_dark=b) for b in (False, True, False)]
    maps = checked.predict_batch(images)
    assert engine.seen == 4
    for probability in maps:
        assert ((probability >= 0.5) == _disc()).mean() > 0.99


def test_the_mode_is_named_in_the_segmenter_and_the_model_id() -> None:
    spec = SegmenterSpec.parse("unet@0.6+tta+pol")
    assert spec.polarity and spec.flip_average and spec.scale == 0.6 and spec.is_network
    assert not SegmenterSpec.parse("unet").polarity
    assert mode_suffix(scale=0.6, flip_average=True, polarity=True) == "@0.6+tta+pol"
    assert mode_suffix(scale=None, flip_average=False) == ""
