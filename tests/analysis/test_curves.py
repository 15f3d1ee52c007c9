"""Growth curves keep every point and mark the unusable ones."""

from __future__ import annotations

import numpy as np

from hts.analysis import EndpointParams, growth_curves
from hts.analysis.curves import baseline_volume, usable_points
from hts.measure.qc import QC_BITS
from hts.results import Status
from hts.synth import imaging_times_h, layout_wells, simulate_plate
from hts.synth.results import results_from_histories


def test_usable_points_rules() -> None:
    status = np.array([[Status.OK, Status.OK, Status.FAILED, Status.OK, Status.OK]])
    qc = np.array([[0, 1 << QC_BITS["uncertain_choice"], 0, 0, 0]])
    volume = np.array([[1.0, 1.0, 1.0, np.nan, 1.0]])
    times = np.array([[0.0, 24.0, 48.0, 72.0, 96.0]])
    all_flags = EndpointParams().exclude_bits  # every flag but multiple_objects
    np.testing.assert_array_equal(
        usable_points(status, qc, volume, times, exclude_bits=all_flags),
        [[True, False, False, False, True]],
    )
    np.testing.assert_array_equal(
        usable_points(status, qc, volume, times, exclude_bits=0, observation_end_h=72.0),
        [[True, True, False, False, False]],
    )
    # a second object beside the spheroid does not, by default, make its volume unusable
    beside = np.array([[0, 1 << QC_BITS["multiple_objects"], 0, 0, 0]])
    np.testing.assert_array_equal(
        usable_points(status, beside, volume, times, exclude_bits=all_flags),
        [[True, True, False, False, True]],
    )


def test_baseline_falls_back_to_the_next_usable_point_in_the_window() -> None:
    times = np.array([[0.0, 24.0, 48.0], [0.0, 24.0, 48.0]])
    volume = np.array([[5.0, 6.0, 7.0], [5.0, 6.0, 7.0]])
    usable = np.array([[False, True, True], [False, False, True]])
    v0, t0 = baseline_volume(times, volume, usable, max_h=24.0)
    np.testing.assert_array_equal(v0[:1], [6.0])
    np.testing.assert_array_equal(t0[:1], [24.0])
    assert np.isnan(v0[1]) and np.isnan(t0[1])


def test_flagged_points_are_marked_not_dropped() -> None:
    histories = simulate_plate(layout_wells(10), times_h=imaging_times_h(6), seed=2)
    results = results_from_histories(histories, flag_fraction=0.2, missing_fraction=0.1, seed=2)
    curves = growth_curves(results)
    assert curves.sizes == results.sizes
    flagged = (results.qc_flags.values != 0) & (results.status.values == Status.OK)
    assert flagged.any()
    np.testing.assert_array_equal(curves.excluded.values, flagged)
    assert not (curves.usable.values & flagged).any()
    np.testing.assert_array_equal(curves.volume_um3.values, results.volume_um3.values)
    # identity: plate/well/field, one per spheroid, unchanged by selecting time points
    ids = curves.spheroid_id.values
    assert ids[0] == "SYN01/B02/1" and len(set(ids)) == ids.size
    again = growth_curves(results.isel(timepoint=slice(0, 3)))
    np.testing.assert_array_equal(again.spheroid_id.values, ids)
    # relative volume is 1 at a usable first point
    first = curves.usable.values[:, 0]
    np.testing.assert_allclose(curves.relative_volume.values[first, 0], 1.0)


def test_only_chosen_flags_exclude() -> None:
    histories = simulate_plate(layout_wells(6), times_h=imaging_times_h(5), seed=3)
    results = results_from_histories(histories, flag_fraction=0.5, seed=3)
    params = EndpointParams(exclude_flags=("no_object",))
    curves = growth_curves(results, params=params)
    no_object = (results.qc_flags.values & (1 << QC_BITS["no_object"])) != 0
    np.testing.assert_array_equal(curves.excluded.values, no_object)
