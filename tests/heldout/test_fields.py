import numpy as np

from hts.heldout.fields import (
    Window,
    fill_holes,
    largest_component,
    paste_add,
    paste_or,
    radial_distance,
    signed_distance,
    smooth_noise,
)


def test_smooth_noise_is_standardised_smooth_and_deterministic() -> None:
    a = smooth_noise((120, 150), np.random.default_rng(1), scale_px=20)
    b = smooth_noise((120, 150), np.random.default_rng(1), scale_px=20)
    assert a.shape == (120, 150) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert abs(float(a.mean())) < 1e-4 and abs(float(a.std()) - 1) < 1e-3
    # neighbouring pixels are strongly correlated at a 20-pixel correlation length
    assert np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1] > 0.95


def test_signed_distance_positive_inside_negative_outside() -> None:
    mask = radial_distance((61, 61), (30, 30)) < 20
    sd = signed_distance(mask)
    assert sd[30, 30] > 19 and sd[0, 0] < -20
    assert (sd[mask] > 0).all() and (sd[~mask] < 0).all()


def test_fill_holes_and_largest_component() -> None:
    ring = (radial_distance((50, 50), (25, 25)) < 15) & (radial_distance((50, 50), (25, 25)) > 5)
    filled = fill_holes(ring)
    assert filled[25, 25] and filled.sum() > ring.sum()
    two = np.zeros((20, 40), bool)
    two[2:5, 2:5] = True
    two[5:15, 20:30] = True
    big = largest_component(two)
    assert big.sum() == 100 and not big[3, 3]
    assert not largest_component(np.zeros((5, 5), bool)).any()


def test_paste_clips_to_the_image() -> None:
    base = np.zeros((10, 10), np.float32)
    local = np.ones((4, 4), np.float32)
    out = paste_add(base, local, (-2, 8))
    assert out.sum() == 4 and out[0:2, 8:10].all()
    assert base.sum() == 0  # a new array
    assert paste_or(np.zeros((10, 10), bool), local > 0, (20, 20)).sum() == 0
    assert Window((10, 10), (4, 4), (20, 20)).empty
