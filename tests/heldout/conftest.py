"""Small held-out images shared by the tests (rendered once per session)."""

from __future__ import annotations

import pytest

from hts.heldout import CATEGORIES, HeldoutImage, image_rng, render_heldout

#: Small enough to keep every test fast, large enough for every category's layout.
SMALL = (288, 352)


@pytest.fixture(scope="session")
def small_images() -> dict[str, list[HeldoutImage]]:
    """Three small 16-bit images per category (seed 11)."""
    return {
        c: [
            render_heldout(c, image_rng(11, c, j), shape=SMALL, image_format="uint16")
            for j in range(3)
        ]
        for c in CATEGORIES
    }
