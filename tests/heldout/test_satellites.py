import numpy as np

from hts.heldout.cells import cell_looks
from hts.heldout.fields import radial_distance
from hts.heldout.satellites import add_loose_cells, add_satellites


def test_satellites_and_loose_cells_stay_clear_of_the_spheroid() -> None:
    rng = np.random.default_rng(0)
    shape = (300, 300)
    spheroid = radial_distance(shape, (150, 150)) < 40
    looks = cell_looks(rng, cell_px=8.0)
    dens, occupied = add_satellites(
        np.zeros(shape, np.float32), spheroid, rng, n=6, cell_px=8.0, looks=looks,
        near=(150.0, 150.0), reach_px=140.0,
    )  # fmt: skip
    dens = add_loose_cells(
        dens, occupied, rng, n=60, cell_px=8.0, looks=looks, near=(150.0, 150.0), spread_px=80.0
    )
    assert occupied.sum() > spheroid.sum()  # at least one satellite landed
    clear = radial_distance(shape, (150, 150)) < 40 + 8.0  # the mask and a gap of one cell
    assert np.abs(dens[clear]).max() < 0.05
    assert np.abs(dens[~clear]).max() > 0.2
