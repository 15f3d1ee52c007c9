import numpy as np

from hts.heldout.cells import cell_looks
from hts.heldout.fields import paste_or
from hts.heldout.layout import group_box, place_group, touching_offset
from hts.heldout.spheroid import random_spheroid_look, render_spheroid


def _bodies(n: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    looks = cell_looks(rng, cell_px=6.0)
    return [
        render_spheroid(
            rng, radius_px=30.0, cell_px=6.0, looks=looks, look=random_spheroid_look(rng)
        )
        for _ in range(n)
    ]


def test_touching_bodies_share_a_little_area() -> None:
    a, b = _bodies(2)
    off = touching_offset(a, b, np.random.default_rng(1), contact_px=20)
    assert np.hypot(*off) > 0.8 * (a.extent_px + b.extent_px) / 2
    canvas = np.zeros((400, 400), bool)
    origin = (200, 200)
    ma = paste_or(canvas, a.mask, (origin[0] - round(a.centre[0]), origin[1] - round(a.centre[1])))
    mb = paste_or(
        canvas,
        b.mask,
        (origin[0] + off[0] - round(b.centre[0]), origin[1] + off[1] - round(b.centre[1])),
    )
    shared = int((ma & mb).sum())
    assert 20 <= shared < 0.2 * min(ma.sum(), mb.sum())


def test_placed_groups_stay_inside_the_image() -> None:
    (a,) = _bodies(1)
    y0, x0, y1, x1 = group_box([a], [(0, 0)])
    for seed in range(10):
        oy, ox = place_group([a], [(0, 0)], (150, 200), np.random.default_rng(seed), margin=5)
        assert oy + y0 >= 5 and ox + x0 >= 5 and oy + y1 <= 145 and ox + x1 <= 195
    near = place_group(
        [a], [(0, 0)], (150, 200), np.random.default_rng(0), near=(75, 100), within=3
    )
    assert np.hypot(near[0] - 75, near[1] - 100) <= 4
