"""The results schema: variables, their CF attributes, position labels."""

from __future__ import annotations

import numpy as np

from hts.measure.qc import QC_BITS
from hts.results.schema import (
    MEASUREMENTS,
    VARIABLES,
    Status,
    position_label,
    qc_flag_attrs,
)


def test_every_variable_is_named_once_and_measurements_carry_units() -> None:
    names = [spec.name for spec in VARIABLES]
    assert len(names) == len(set(names))
    assert names[: len(MEASUREMENTS)] == [spec.name for spec in MEASUREMENTS]
    for spec in MEASUREMENTS:
        assert spec.dtype == "float64" and np.isnan(spec.fill)
        assert spec.attrs["units"] and spec.attrs["long_name"]
        unit = spec.attrs["units"]
        assert unit == "1" or spec.name.endswith(f"_{unit}"), f"{spec.name}: unit not in name"


def test_fills_fit_their_dtypes() -> None:
    for spec in VARIABLES:
        if spec.dtype != "str":
            assert np.array(spec.fill).astype(spec.dtype) == spec.fill or np.isnan(spec.fill)


def test_status_flags_follow_cf() -> None:
    (status,) = (spec for spec in VARIABLES if spec.name == "status")
    assert status.fill == Status.PENDING
    values = [int(v) for v in status.attrs["flag_values"].split()]
    meanings = status.attrs["flag_meanings"].split()
    assert dict(zip(meanings, values, strict=True)) == {s.name.lower(): int(s) for s in Status}


def test_qc_flags_carry_one_mask_and_one_name_per_bit() -> None:
    (qc,) = (spec for spec in VARIABLES if spec.name == "qc_flags")
    attrs = qc_flag_attrs()
    assert qc.attrs["flag_masks"] == attrs["flag_masks"]
    assert qc.attrs["flag_meanings"] == attrs["flag_meanings"]
    named = dict(zip(attrs["flag_meanings"].split(), attrs["flag_masks"], strict=True))
    assert named == {name: 1 << bit for name, bit in QC_BITS.items()}
    assert max(attrs["flag_masks"]) <= np.iinfo(qc.dtype).max  # every bit fits the dtype
    assert " " not in "".join(QC_BITS)  # CF: meanings are blank-separated words


def test_a_position_is_its_well_unless_the_plate_has_several_fields() -> None:
    assert position_label("B03", 1, 1) == "B03"
    assert position_label("B03", 2, 3) == "B03_f2"
