import numpy as np

from hts.heldout.fields import radial_distance
from hts.heldout.well import random_well_wall, render_well, whole_well


def test_whole_well_is_dark_outside_and_fits() -> None:
    rng = np.random.default_rng(0)
    well = whole_well(rng, shape=(400, 500), diameter_um=4000.0, um_per_px=11.0)
    dens = render_well(well, (400, 500), rng)
    inside = well.inside((400, 500))
    r = radial_distance((400, 500), well.centre)
    outside = r > well.radius_px + well.wall_px
    assert inside.sum() > 0.4 * inside.size and outside.any()
    assert np.median(dens[outside]) > 1.2 and np.median(dens[inside]) < 0.3


def test_well_wall_passes_at_the_clearance() -> None:
    rng = np.random.default_rng(1)
    well = random_well_wall(
        rng,
        target=(100.0, 100.0),
        clearance_px=50.0,
        direction=0.0,
        diameter_um=5000.0,
        um_per_px=2.0,
    )
    r_target = np.hypot(100.0 - well.centre[0], 100.0 - well.centre[1])
    assert abs(well.radius_px - r_target - 50.0) < 1e-6
    assert well.inside((200, 300))[100, 140] and not well.inside((200, 300))[100, 160]
