"""Contour overlays of flagged images."""

from __future__ import annotations

import numpy as np

from hts.report.montage import flagged_montage, overlay_tile, tile_grid
from hts.results import open_results


def test_overlay_draws_the_contour_in_red() -> None:
    image = np.full((100, 200), 1000, np.uint16)
    image[30:70, 80:120] = 200
    contour = np.array([[80, 30], [119, 30], [119, 69], [80, 69]])
    tile = overlay_tile(image, contour, "B03 d1 touches_border", width_px=100)
    assert tile.shape == (50 + 22 + 16, 100, 3)  # the caption wraps to two lines at 100 px
    b, g, r = tile[15, 50]  # the top edge at y 30 -> 15 after scaling by 1/2
    assert r > 200 and g < 60 and b < 60
    assert tuple(tile[40, 5]) == (255, 255, 255)  # background, grey: equal channels


def test_tile_grid_layout() -> None:
    tiles = [np.zeros((10, 20, 3), np.uint8)] * 7
    grid = tile_grid(tiles, columns=3, gap_px=2)
    assert grid.shape == (3 * 12 + 2, 3 * 22 + 2, 3)


def test_montage_of_a_segmented_plate(segmented_plate) -> None:
    _, plate, results_path = segmented_plate
    ds = open_results(results_path).load()
    n_flagged = int(((ds.qc_flags != 0) & (ds.status == 1)).sum())
    assert n_flagged > 0
    montage = flagged_montage(ds, plate, max_images=5, columns=5, width_px=64)
    assert montage.n_flagged == n_flagged and len(montage.labels) == min(5, n_flagged)
    assert montage.image.shape[1] == 5 * (64 + 4) + 4 or len(montage.labels) < 5
    assert montage.png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_long_caption_wraps_instead_of_losing_flag_names() -> None:
    from hts.report.montage import _wrap

    label = "B02 day 1.0\nmultiple_objects, touches_border, uncertain_choice"
    lines = _wrap(label, 40)
    assert lines[0] == "B02 day 1.0" and all(len(line) <= 40 for line in lines)
    assert " ".join(lines[1:]) == label.splitlines()[1]  # every flag name, whole
    short = overlay_tile(np.zeros((64, 64), np.uint16), np.zeros((0, 2), int), "B02 day 1.0")
    long = overlay_tile(np.zeros((64, 64), np.uint16), np.zeros((0, 2), int), label)
    assert long.shape[0] == short.shape[0] + 2 * 16  # two more caption lines
