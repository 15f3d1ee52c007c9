"""From an image's analysis to the values the results store keeps for it."""

from __future__ import annotations

import numpy as np

from hts.measure.contour import decode_contour
from hts.results.schema import ERROR_WIDTH, MEASUREMENTS, VARIABLES, Status
from hts.results.values import (
    PER_IMAGE,
    blank_values,
    failed_values,
    measured_values,
    no_image_values,
    set_row,
)
from hts.segment import analyse_probability
from hts.testing import disk_image


def _analysis(um: float):  # type: ignore[no-untyped-def]
    image, mask = disk_image((96, 128), 20, seed=0)
    return analyse_probability(mask.astype(np.float32), pixel_size_um=um, image=image)


def test_every_measurement_is_stored_and_centroids_in_micrometres() -> None:
    um = 2.5
    analysis = _analysis(um)
    values = measured_values(analysis, pixel_size_um=um)
    assert {spec.name for spec in MEASUREMENTS} <= set(values) <= set(PER_IMAGE)
    m = analysis.measurement
    assert values["centroid_y_um"] == m.centroid_y_px * um
    assert values["centroid_x_um"] == m.centroid_x_px * um
    assert values["area_um2"] == m.area_um2 and values["n_objects"] == m.n_objects
    assert values["status"] == Status.OK and values["qc_flags"] == analysis.flags.to_bits()
    assert np.array_equal(decode_contour(values["contour"]), analysis.contour)


def test_a_slot_to_do_starts_blank_and_says_who_does_it() -> None:
    values = blank_values(model_id="m-1", processing_version=3, time_since_treatment_h=24.0)
    assert set(values) == set(PER_IMAGE) == {spec.name for spec in VARIABLES}
    assert values["model_id"] == "m-1" and values["processing_version"] == 3
    assert values["status"] == Status.PENDING and np.isnan(values["area_um2"])


def test_failures_and_missing_images() -> None:
    failed = failed_values(ValueError("x" * 500))
    assert failed["status"] == Status.FAILED and len(failed["error"]) == ERROR_WIDTH
    assert failed["error"].startswith("ValueError: x")
    assert no_image_values() == {"status": Status.NO_IMAGE}


def test_set_row_writes_one_row_of_a_block() -> None:
    block = {"status": np.zeros(3, np.int8), "error": np.array(["", "", ""], dtype=object)}
    set_row(block, 1, failed_values(OSError("gone")))
    assert list(block["status"]) == [0, int(Status.FAILED), 0]
    assert block["error"][1] == "OSError: gone"
