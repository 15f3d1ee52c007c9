import numpy as np

from hts.heldout.fields import largest_component
from hts.heldout.outline import outline_field, outline_mask, random_outline


def test_outline_is_one_filled_piece_of_about_the_requested_area() -> None:
    for seed in range(6):
        rng = np.random.default_rng(seed)
        spec = random_outline(rng, radius_px=60, cell_px=10)
        assert 1 <= len(spec.lobes) <= 4
        half = int(spec.extent_px) + 5
        mask = outline_mask(outline_field(spec, (2 * half, 2 * half), (half, half), rng))
        area = float(mask.sum())
        assert 0.6 * np.pi * 60**2 < area < 1.6 * np.pi * 60**2
        assert (largest_component(mask) == mask).all()
        assert not mask[0].any() and not mask[:, 0].any()  # extent_px holds it


def test_irregularity_zero_gives_a_smooth_ellipse() -> None:
    rng = np.random.default_rng(3)
    spec = random_outline(rng, radius_px=50, cell_px=10, irregularity=0.0, max_lobes=1)
    assert spec.bump_px == 0.0 and len(spec.lobes) == 1
