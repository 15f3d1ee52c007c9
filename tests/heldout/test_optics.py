import numpy as np
import pytest

from hts.heldout.fields import radial_distance
from hts.heldout.optics import Optics, form_image, random_optics


def _optics(**kw) -> Optics:  # type: ignore[no-untyped-def]
    base = dict(
        contrast="brightfield", halo=0.0, halo_px=8.0, psf_px=0.5, defocus_px=0.0, falloff=0.0,
        axis=(0.5, 0.5), tilt=(0.0, 0.0), photons=1e6, read_noise=0.0,
    )  # fmt: skip
    base.update(kw)
    return Optics(**base)  # type: ignore[arg-type]


DISC = (radial_distance((100, 100), (50, 50)) < 20).astype(np.float32) * 2.0


def test_brightfield_background_near_one_and_object_dark() -> None:
    img = form_image(DISC, _optics(), np.random.default_rng(0))
    assert abs(float(img[5, 5]) - 1.0) < 0.01 and img[50, 50] < 0.2


def test_inverted_and_darkfield_make_the_object_bright() -> None:
    for contrast, display in (("inverted", False), ("inverted", True), ("darkfield", False)):
        optics = _optics(contrast=contrast, density_display=display)
        img = form_image(DISC, optics, np.random.default_rng(0))
        assert img[50, 50] > 2 * img[5, 5]


def test_halo_brightens_the_surround() -> None:
    img = form_image(DISC, _optics(halo=0.5), np.random.default_rng(0))
    assert img[50, 73] > 1.05  # just outside the disc edge


def test_illumination_falloff_and_noise() -> None:
    flat = np.zeros((100, 100), np.float32)
    img = form_image(
        flat, _optics(falloff=0.4, photons=200.0, read_noise=0.01), np.random.default_rng(0)
    )
    assert img[:10, :10].mean() < img[45:55, 45:55].mean() - 0.1
    assert img[40:60, 40:60].std() > 0.05  # shot noise at 200 photoelectrons


def test_random_optics_rejects_unknown_contrast() -> None:
    rng = np.random.default_rng(0)
    assert random_optics(rng, contrast="darkfield").halo == 0.0
    with pytest.raises(ValueError):
        random_optics(rng, contrast="phase")
