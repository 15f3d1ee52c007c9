import csv
from pathlib import Path

import numpy as np
import pytest

from hts.heldout import CATEGORIES, write_heldout_set
from hts.heldout.export import jpeg_round_trip
from hts.heldout.writer import INDEX_COLUMNS, jfif_with_density
from hts.io.readers import read_image
from hts.measure.evaluate import evaluate_folder, format_table
from hts.segment.registry import get_segmenter

TINY = (192, 256)


def test_jfif_density_gives_the_pixel_size(tmp_path: Path) -> None:
    _, data = jpeg_round_trip(np.full((32, 32), 100, np.uint8), 80)
    path = tmp_path / "a.jpg"
    path.write_bytes(jfif_with_density(data, 7692))  # 1.3 um
    got = read_image(path)
    assert got.header.pixel_size_um == pytest.approx(1e4 / 7692)
    assert got.pixels.shape == (32, 32)
    with pytest.raises(ValueError):
        jfif_with_density(data, 70000)
    bare = data[:2] + data[20:]  # without the APP0 segment: one is inserted
    assert jfif_with_density(bare, 5000)[6:11] == b"JFIF\x00"


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("heldout")
    write_heldout_set(out, 1, seed=0, shape=TINY)
    return out


def test_set_layout_and_index(tiny_set: Path) -> None:
    with (tiny_set / "index.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == INDEX_COLUMNS
    assert [r["category"] for r in rows] == list(CATEGORIES)
    for r in rows:
        data = read_image(tiny_set / "images" / r["file"])
        assert data.header.pixel_size_um == pytest.approx(float(r["pixel_size_um"]), rel=1e-5)
        assert data.pixels.shape == TINY and data.pixels.dtype in (np.uint8, np.uint16)
        mask = read_image(tiny_set / "masks" / (Path(r["file"]).stem + ".png")).pixels
        assert set(np.unique(mask)) == {0, 255}
        area = (mask > 0).sum() * float(r["pixel_size_um"]) ** 2
        assert float(r["diameter_um"]) == pytest.approx(np.sqrt(4 * area / np.pi), abs=0.1)


def test_evaluate_scores_the_set_per_category(tiny_set: Path) -> None:
    seg = get_segmenter("classical")
    scores = evaluate_folder(
        tiny_set / "images",
        tiny_set / "masks",
        predict=lambda image, um: seg.predict(image, pixel_size_um=um),
    )
    assert sorted(s.category for s in scores) == sorted(CATEGORIES)
    assert all(0.0 <= s.score.jcd <= 1.0 for s in scores)
    table = format_table(scores)
    assert "category whole_well" in table and "category touching" in table


def test_same_seed_same_files(tmp_path: Path) -> None:
    a = write_heldout_set(tmp_path / "a", 1, seed=4, categories=["clean"], shape=TINY)
    b = write_heldout_set(tmp_path / "b", 1, seed=4, categories=["clean", "debris"], shape=TINY)
    name = a.read_text().splitlines()[1].split(",")[0]
    assert (a.parent / "images" / name).read_bytes() == (b.parent / "images" / name).read_bytes()
    with pytest.raises(ValueError, match="unknown categories"):
        write_heldout_set(tmp_path / "c", 1, seed=0, categories=["foam"])


@pytest.mark.parametrize("fmt", ["uint16", "uint8", "jpeg", "rgb"])
def test_every_format_reads_back_with_its_pixel_size(tmp_path: Path, fmt: str) -> None:
    from hts.heldout import image_rng, render_heldout
    from hts.heldout.writer import write_image
    from hts.io.readers import rgb_to_gray

    s = render_heldout("clean", image_rng(1, "clean", 0), shape=TINY, image_format=fmt)
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    file = write_image(s, tmp_path / "i", tmp_path / "m", "x")
    assert file.endswith(".jpg" if fmt == "jpeg" else ".tif")
    got = read_image(tmp_path / "i" / file)
    assert got.header.pixel_size_um == pytest.approx(s.pixel_size_um, rel=1e-6)
    want = rgb_to_gray(s.image) if s.image.ndim == 3 else s.image
    if fmt == "jpeg":  # Pillow's and OpenCV's decoders may differ by a level or two
        assert np.abs(got.pixels.astype(int) - want.astype(int)).max() <= 3
    else:
        np.testing.assert_array_equal(got.pixels, want)
    assert (read_image(tmp_path / "m" / "x.png").pixels > 0).sum() == s.mask.sum()
