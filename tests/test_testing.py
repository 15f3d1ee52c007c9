"""hts.testing's assertions pass on sound results and name what is wrong with others."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hts.measure.qc import QC_BITS
from hts.results import Status
from hts.synth import imaging_times_h, layout_wells, simulate_plate
from hts.synth.results import results_from_histories
from hts.testing import assert_qc_flags_decode, assert_results_complete


@pytest.fixture
def results() -> xr.Dataset:
    histories = simulate_plate(layout_wells(4), times_h=imaging_times_h(3), seed=1)
    ds = results_from_histories(histories, flag_fraction=0.3, missing_fraction=0.2, seed=1)
    return ds


def test_sound_results_pass(results: xr.Dataset) -> None:
    n_ok = int((results.status.values == Status.OK).sum())
    assert 0 < n_ok < results.status.size  # some slots have no image
    assert_results_complete(results, n_ok=n_ok)
    with pytest.raises(AssertionError, match=f"{n_ok} slots measured, expected {n_ok + 1}"):
        assert_results_complete(results, n_ok=n_ok + 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ds: ds.status.values.__setitem__((0, 0), Status.PENDING), "still pending"),
        (lambda ds: ds.diameter_um.values.__setitem__((0, 0), np.nan), "no diameter_um"),
        (lambda ds: ds.model_id.values.__setitem__((0, 0), ""), "does not name its model"),
        (lambda ds: ds.status.values.__setitem__((0, 0), Status.FAILED), "does not say why"),
    ],
)
def test_unfinished_or_inconsistent_results_fail(results: xr.Dataset, change, message: str) -> None:
    change(results)
    with pytest.raises(AssertionError, match=message):
        assert_results_complete(results)


def test_a_measurement_on_a_failed_slot_fails(results: xr.Dataset) -> None:
    results.status.values[0, 0] = Status.FAILED
    results.error.values[0, 0] = "could not read"
    with pytest.raises(AssertionError, match="area_um2 is set on a slot that is not ok"):
        assert_results_complete(results)


def test_qc_flags_decode_by_their_cf_attributes(results: xr.Dataset) -> None:
    decoded = assert_qc_flags_decode(results)
    bits = results.qc_flags.values.astype(int)
    for name, bit in QC_BITS.items():
        np.testing.assert_array_equal(decoded[name], (bits >> bit) & 1 == 1)
    assert any(flags.any() for flags in decoded.values())


def test_qc_flags_without_cf_attributes_or_renamed_bits_fail(results: xr.Dataset) -> None:
    old = results.copy()
    old.qc_flags.attrs = {"flag_meanings": ""}  # as stores written before carried
    with pytest.raises(AssertionError, match="no flag_meanings"):
        assert_qc_flags_decode(old)
    swapped = results.copy()
    names = swapped.qc_flags.attrs["flag_meanings"].split()
    names[0], names[1] = names[1], names[0]
    swapped.qc_flags.attrs = {**swapped.qc_flags.attrs, "flag_meanings": " ".join(names)}
    with pytest.raises(AssertionError, match="differ from QC_BITS"):
        assert_qc_flags_decode(swapped)
