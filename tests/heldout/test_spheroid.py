import numpy as np

from hts.heldout.cells import cell_looks
from hts.heldout.fields import fill_holes, largest_component, signed_distance
from hts.heldout.spheroid import random_spheroid_look, render_spheroid


def _body(seed: int, radius: float = 70.0, cell: float = 10.0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    looks = cell_looks(rng, cell_px=cell)
    return render_spheroid(
        rng, radius_px=radius, cell_px=cell, looks=looks, look=random_spheroid_look(rng)
    )


def test_mask_is_one_filled_piece_inside_the_canvas() -> None:
    for seed in range(3):
        body = _body(seed)
        assert body.mask.any()
        assert (fill_holes(body.mask) == body.mask).all()
        assert (largest_component(body.mask) == body.mask).all()
        edge = np.concatenate([body.mask[0], body.mask[-1], body.mask[:, 0], body.mask[:, -1]])
        assert not edge.any()
        assert 0.5 * np.pi * 70**2 < body.mask.sum() < 2.0 * np.pi * 70**2


def test_core_is_dark_and_the_border_translucent() -> None:
    body = _body(4)
    sd = signed_distance(body.mask)
    t = np.exp(-body.absorbance)
    core = t[sd > 0.6 * sd.max()]
    border = t[(sd > 0) & (sd < 10)]  # the outermost cell diameter
    assert np.median(core) < 0.35
    assert np.median(border) > 2 * np.median(core)
    # textured: individual cells make the border grainy, not a smooth ramp
    assert border.std() > 0.05


def test_border_is_bumpy() -> None:
    body = _body(5)
    contour_len = np.count_nonzero(body.mask ^ np.roll(body.mask, 1, axis=0)) + np.count_nonzero(
        body.mask ^ np.roll(body.mask, 1, axis=1)
    )
    equivalent_circle = 2 * np.pi * np.sqrt(body.mask.sum() / np.pi) * 4 / np.pi
    assert contour_len > 1.05 * equivalent_circle
