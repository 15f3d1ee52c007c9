import numpy as np

from hts.heldout.cells import CellSet, cell_looks, jittered_lattice, render_cells, render_footprints


def test_cell_looks_have_a_dark_body_and_a_bright_ring() -> None:
    looks = cell_looks(np.random.default_rng(0), cell_px=12.0, n=6)
    assert [lk.radius_px for lk in looks] == sorted(lk.radius_px for lk in looks)
    for lk in looks:
        c = lk.kernel.shape[0] // 2
        assert lk.kernel[c, c] > 0.5  # absorbing centre
        assert lk.kernel.min() < -0.1  # refractive edge ring brightens
        assert lk.footprint[c, c] and not lk.footprint[0, 0]


def test_lattice_density_matches_the_spacing() -> None:
    ys, xs = jittered_lattice((0, 0, 200, 200), 10.0, np.random.default_rng(1))
    expected = 200 * 200 / (10.0 * 10.0 * np.sqrt(3) / 2)
    assert 0.85 * expected < ys.size < 1.15 * expected
    assert ys.min() >= 0 and xs.max() < 200


def test_render_cells_and_footprints() -> None:
    rng = np.random.default_rng(2)
    looks = cell_looks(rng, cell_px=10.0, n=3)
    cells = CellSet(
        np.array([20.0, 60.0]), np.array([20.0, 60.0]), np.array([0.3, 0.3]), np.array([0, 2])
    )
    dens = render_cells(cells, looks, (80, 80))
    feet = render_footprints(cells, looks, (80, 80))
    assert dens[20, 20] > 0.2 and dens.min() < 0 and abs(dens[40, 5]) < 1e-6
    assert feet[20, 20] and feet[60, 60] and not feet[40, 5]
    assert len(cells.select(np.array([True, False]))) == 1
    assert len(CellSet.join(cells, cells)) == 4
