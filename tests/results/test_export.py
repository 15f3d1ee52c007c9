"""The tidy table: one row per image, as CSV and Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hts.measure.qc import QC_BITS
from hts.results import open_results
from hts.results.export import tidy_table, write_table


def test_tidy_table_has_one_row_per_image(segmented_plate) -> None:
    _, _, results_path = segmented_plate
    ds = open_results(results_path).load()
    table = tidy_table(ds)
    n_w, n_t = ds.sizes["well"], ds.sizes["timepoint"]
    assert len(table) == n_w * n_t
    for column in ("plate", "well", "field", "arm", "dose", "time_h", "acquired_at", "status",
                   "volume_um3", "qc_flags", "model_id", "processing_version",
                   *(f"flag_{f}" for f in QC_BITS)):  # fmt: skip
        assert column in table, column
    assert "contour" not in table and "contour" in tidy_table(ds, include_contour=True)
    # row k is well k // T at time point k % T
    k = 2 * n_t + 3
    assert table.well[k] == ds.well.values[2] and table.timepoint[k] == 3
    assert table.volume_um3[k] == ds.volume_um3.values[2, 3]
    assert table.arm[k] == ds.arm.values[2] and table.time_h[k] == ds.time_h.values[3]
    bits = table.qc_flags.to_numpy().astype(int)
    for flag, bit in QC_BITS.items():
        np.testing.assert_array_equal(table[f"flag_{flag}"], (bits >> bit & 1).astype(bool))
    assert set(table.status) == {"ok"}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_table_round_trips(segmented_plate, tmp_path, suffix: str) -> None:
    _, _, results_path = segmented_plate
    out = write_table(results_path, tmp_path / f"table{suffix}")
    back = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    expected = tidy_table(open_results(results_path))
    assert list(back.columns) == list(expected.columns)
    np.testing.assert_allclose(back.volume_um3, expected.volume_um3)
    assert back.well.astype(str).tolist() == expected.well.tolist()


def test_unknown_format_is_refused(segmented_plate, tmp_path) -> None:
    with pytest.raises(ValueError, match="csv"):
        write_table(segmented_plate[2], tmp_path / "table.xlsx")


def test_each_row_names_the_file_its_image_came_from(segmented_plate, tmp_path) -> None:
    from pathlib import Path

    synthetic, _, results_path = segmented_plate
    table = pd.read_csv(write_table(results_path, tmp_path / "t.csv"), keep_default_na=False)
    files = [Path(f) for f in table.source_file]
    assert all((synthetic.images_dir / f).is_file() for f in files)  # relative to the source
    assert len(set(files)) == len(files)  # one file per image
    for f, well in zip(files, table.well_name, strict=True):
        assert f"_{well}_" in f.name or f"_{well.replace('0', '', 1)}_" in f.name, (f, well)
    moved = tidy_table(open_results(results_path), plate_path=tmp_path / "nowhere.zarr")
    assert set(moved.source_file) == {""}  # no plate: the column is empty, not wrong
