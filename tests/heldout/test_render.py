import cv2
import numpy as np
import pytest

from hts.heldout import HeldoutImage, image_rng, render_heldout
from hts.heldout.fields import radial_distance

SMALL = (288, 352)


def _grey(s: HeldoutImage) -> np.ndarray:
    return s.image if s.image.ndim == 2 else s.image.mean(axis=-1)


def test_same_seed_same_pixels_other_index_other_pixels() -> None:
    a = render_heldout("debris", image_rng(5, "debris", 2), shape=SMALL)
    b = render_heldout("debris", image_rng(5, "debris", 2), shape=SMALL)
    c = render_heldout("debris", image_rng(5, "debris", 3), shape=SMALL)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.pixel_size_um == b.pixel_size_um and a.diameter_um == b.diameter_um
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)
    d = render_heldout("debris", image_rng(6, "debris", 2), shape=SMALL)
    assert not np.array_equal(a.mask, d.mask)


def test_formats_dtypes_and_jpeg_bytes() -> None:
    seen = {}
    for fmt in ("uint16", "uint8", "jpeg", "rgb"):
        s = render_heldout("clean", image_rng(0, "clean", 0), shape=SMALL, image_format=fmt)
        seen[fmt] = (s.image.dtype, s.image.ndim)
        assert s.image.shape[:2] == SMALL and s.mask.shape == SMALL
        assert (s.encoded is not None) == (fmt == "jpeg")
    assert seen["uint16"] == (np.uint16, 2) and seen["uint8"] == (np.uint8, 2)
    assert seen["rgb"] == (np.uint8, 3) and seen["jpeg"][0] == np.uint8


def test_default_shapes_vary_within_range() -> None:
    shapes = {render_heldout("clean", image_rng(9, "clean", j)).image.shape[:2] for j in range(2)}
    assert len(shapes) == 2
    assert all(768 <= side <= 1300 for shape in shapes for side in shape)


def test_diameter_is_the_masks_equivalent_diameter(small_images) -> None:  # type: ignore[no-untyped-def]
    for images in small_images.values():
        s = images[0]
        assert s.diameter_um == pytest.approx(np.sqrt(4 * s.mask.sum() / np.pi) * s.pixel_size_um)


def test_inverted_spheroid_is_brighter_than_its_background(small_images) -> None:  # type: ignore[no-untyped-def]
    for s in small_images["inverted"]:
        g = _grey(s)
        assert s.contrast in ("inverted", "darkfield")
        assert np.median(g[s.mask]) > np.median(g[~s.mask])
    for s in small_images["clean"]:
        g = _grey(s)
        assert np.median(g[s.mask]) < np.median(g[~s.mask])


def test_whole_well_is_dark_outside_its_circle(small_images) -> None:  # type: ignore[no-untyped-def]
    for s in small_images["whole_well"]:
        assert s.well is not None
        g = _grey(s).astype(float)
        r = radial_distance(g.shape, s.well.centre)
        inside = r < 0.8 * s.well.radius_px
        outside = r > s.well.radius_px + s.well.wall_px + 2
        assert outside.sum() > 0.03 * g.size
        assert np.median(g[outside]) < 0.6 * np.median(g[inside])
        # the spheroid is small and near the middle of the well
        ys, xs = np.nonzero(s.mask)
        assert (
            np.hypot(ys.mean() - s.well.centre[0], xs.mean() - s.well.centre[1])
            < 0.45 * s.well.radius_px
        )


def test_well_wall_darkens_part_of_the_field(small_images) -> None:  # type: ignore[no-untyped-def]
    for s in small_images["well_wall"]:
        assert s.well is not None
        g = _grey(s).astype(float)
        outside = ~s.well.inside(g.shape)
        assert 0.01 * g.size < outside.sum() < 0.95 * g.size
        assert np.median(g[outside]) < 0.6 * np.median(g[~outside & ~s.mask])


def test_touching_mask_holds_two_bodies(small_images) -> None:  # type: ignore[no-untyped-def]
    for s in small_images["touching"]:
        a, b = s.body_areas_px
        assert s.mask.sum() > max(a, b) + 0.7 * min(a, b)
        assert cv2.connectedComponents(s.mask.astype(np.uint8))[0] == 2


def test_debris_darker_than_background_outside_the_mask(small_images) -> None:  # type: ignore[no-untyped-def]
    for category in ("debris", "small_remnant"):
        for s in small_images[category]:
            g = _grey(s).astype(float)
            grown = cv2.dilate(s.mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
            floor = g.min()  # about the camera offset: the spheroid core is near black
            out = (g[~grown] - floor) / (np.percentile(g[~grown], 90) - floor)
            dark = (out < 0.75).mean()
            assert dark > 0.01, (category, dark)
