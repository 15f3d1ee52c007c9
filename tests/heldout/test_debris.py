import numpy as np

from hts.heldout.debris import cloud_density, random_cloud, render_cloud


def test_cloud_density_falls_off_from_its_core() -> None:
    rng = np.random.default_rng(0)
    spec = random_cloud(rng, centre=(100.0, 100.0), spheroid_radius_px=30.0)
    dens = cloud_density(spec, (200, 200), rng)
    core = dens[
        int(spec.centre[0]) - 5 : int(spec.centre[0]) + 5,
        int(spec.centre[1]) - 5 : int(spec.centre[1]) + 5,
    ]
    assert core.mean() > 3 * dens[:5, :5].mean()


def test_rendered_cloud_has_dark_granules_and_haze() -> None:
    rng = np.random.default_rng(1)
    spec = random_cloud(rng, centre=(120.0, 120.0), spheroid_radius_px=40.0)
    out = render_cloud(spec, (240, 240), rng, um_per_px=1.5)
    near = out[80:160, 80:160]
    assert near.mean() > 0.05 and near.max() > 0.3  # granules sit on the haze
    assert (out < 0).any()  # refractile granules and ghost rims brighten
    assert out[:10, :10].mean() < near.mean()


def test_dense_clouds_are_larger_and_darker() -> None:
    halo = [
        random_cloud(np.random.default_rng(s), centre=(0, 0), spheroid_radius_px=10)
        for s in range(20)
    ]
    dense = [
        random_cloud(np.random.default_rng(s), centre=(0, 0), spheroid_radius_px=10, dense=True)
        for s in range(20)
    ]
    assert min(d.haze for d in dense) > np.median([h.haze for h in halo])
    assert np.mean([max(d.radii) for d in dense]) > 2 * np.mean([max(h.radii) for h in halo])
