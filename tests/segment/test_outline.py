"""The outline rule (``+edge``): a network's spheroid grows to the dark cells around it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hts.measure.qc import contour_margin
from hts.segment.network import NetworkSegmenter
from hts.segment.outline import OutlineRule, grow_into, keep_margin, refine_outline

SHAPE = (240, 300)
CENTRE = (150, 120)  # x, y


def _disc(radius: int, centre: tuple[int, int] = CENTRE) -> np.ndarray:
    out = np.zeros(SHAPE, np.uint8)
    cv2.circle(out, centre, radius, 1, thickness=-1)
    return out.astype(bool)


def _image(*, border: bool = True, cloud: bool = False) -> np.ndarray:
    """A dark core of radius 40 at 1 um per pixel; with ``border``, a ring of lighter
    (but still clearly dark) cells out to radius 46; with ``cloud``, a dark debris cloud
    that touches the spheroid and spreads far to its right."""
    rng = np.random.default_rng(7)
    image = np.full(SHAPE, 200.0, np.float32) + rng.normal(0, 3, SHAPE)
    if border:
        image[_disc(46)] = 90.0
    if cloud:
        cloud_mask = np.zeros(SHAPE, bool)
        cloud_mask[60:180, 175:300] = True
        image[cloud_mask] = 110.0
    image[_disc(40)] = 40.0
    return np.clip(image, 0, 255).astype(np.uint8)


def _network_map() -> np.ndarray:
    """What a network that sees only the dark core gives: confident inside radius 40,
    confident background outside, smooth across the edge."""
    inside = _disc(40).astype(np.float32)
    return cv2.GaussianBlur(inside, (0, 0), 1.5) * 0.96 + 0.02


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_growth_stays_in_the_band_and_connected_to_the_core() -> None:
    core = _disc(40)
    allowed = _disc(52) | _disc(8, (40, 40))  # a ring around the core, and a far speck
    grown = grow_into(core, allowed, band_px=20)
    assert _jaccard(grown, _disc(52)) > 0.99
    assert not grown[40, 40]  # dark, but not connected to the core
    narrow = grow_into(core, allowed, band_px=3)
    assert _jaccard(narrow, _disc(43)) > 0.95


def test_the_border_of_lighter_cells_joins_the_spheroid() -> None:
    probability = _network_map()
    refined = refine_outline(probability, _image(), pixel_size_um=1.0)
    assert _jaccard(probability >= 0.5, _disc(46)) < 0.8
    assert _jaccard(refined >= 0.5, _disc(46)) > 0.95
    # the network's certainty is kept at every pixel: QC's border confidence measures it
    assert np.allclose(np.abs(refined - 0.5), np.abs(probability - 0.5))
    unchanged = refine_outline(probability, _image(border=False), pixel_size_um=1.0)
    assert np.array_equal(unchanged >= 0.5, probability >= 0.5)


def test_growth_into_a_debris_cloud_is_refused() -> None:
    probability = _network_map()
    refined = refine_outline(probability, _image(cloud=True), pixel_size_um=1.0)
    assert refined is probability
    more = OutlineRule(max_growth=10.0, max_solidity_loss=1.0)
    taken = refine_outline(probability, _image(cloud=True), pixel_size_um=1.0, rule=more)
    assert (taken >= 0.5).sum() > 1.5 * (probability >= 0.5).sum()  # what the guard stops


def test_an_image_without_a_spheroid_is_left_alone() -> None:
    probability = np.full(SHAPE, 0.05, np.float32)
    assert refine_outline(probability, _image(), pixel_size_um=1.0) is probability


def test_bad_rules_and_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="band"):
        OutlineRule(band=0)
    with pytest.raises(ValueError, match="max_growth"):
        OutlineRule(max_growth=0.9)
    with pytest.raises(ValueError, match="differ"):
        refine_outline(_network_map(), _image()[:-1], pixel_size_um=1.0)


class CoreEngine:
    """A stand-in network that sees only the darkest pixels (the core) as spheroid."""

    name = "core"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float32) / 255.0
        return np.where(x < 0.15, 0.98, 0.02).astype(np.float32)


def test_the_segmenter_grows_its_outline_and_needs_the_pixel_size() -> None:
    plain = NetworkSegmenter(CoreEngine(), "core")
    edged = NetworkSegmenter(CoreEngine(), "core+edge", outline=OutlineRule())
    image = _image()
    first = plain.predict(image, pixel_size_um=1.0) >= 0.5
    grown = edged.predict(image, pixel_size_um=1.0) >= 0.5
    assert grown.sum() > 1.15 * first.sum() and (grown | first).sum() == grown.sum()
    assert _jaccard(grown, _disc(46)) > 0.9
    with pytest.raises(ValueError, match=r"\+edge"):
        edged.predict(image)


def test_qc_confidence_is_measured_on_the_network_map() -> None:
    """The gained border was confident background for the network, so the refined
    outline's border band is as certain as the network's (no flood of low-confidence
    flags), as the map keeps |p - 0.5|."""
    probability = _network_map()
    refined = refine_outline(probability, _image(), pixel_size_um=1.0)
    margin = contour_margin(refined, refined >= 0.5)
    assert margin > 0.5


def test_keep_margin_moves_pixels_across_0_5_with_their_certainty() -> None:
    probability = np.array([[0.9, 0.2, 0.5, 0.6]], np.float32)
    mask = np.array([[True, True, False, False]])
    out = keep_margin(probability, mask)
    assert out.dtype == np.float32
    assert ((out >= 0.5) == mask).all()
    np.testing.assert_allclose(out, [[0.9, 0.8, 0.499, 0.4]], atol=1e-6)
    # pixels called doubtful sit next to 0.5 on their side, whatever their certainty was
    doubt = np.array([[False, True, False, False]])
    np.testing.assert_allclose(
        keep_margin(probability, mask, doubt), [[0.9, 0.501, 0.499, 0.4]], atol=1e-6
    )
    with pytest.raises(ValueError, match="differ"):
        keep_margin(probability, mask[:, :2])
