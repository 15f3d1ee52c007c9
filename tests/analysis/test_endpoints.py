"""Endpoints against the synthetic truth: fates, relapse times, SCD50, growth."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from hts.analysis import EndpointParams, compute_endpoints, growth_curves
from hts.analysis.endpoints import (
    arm_endpoints,
    dose_endpoints,
    endpoints_from_curves,
    evaluation_times,
    spheroid_endpoints,
)
from hts.synth import Scenario, imaging_times_h, layout_wells, simulate_plate
from hts.synth.results import endpoint_recovery, results_from_histories

INTERVAL_H = 24.0


def _plate(n_wells: int, n_days: int, seed: int, **kw):
    times = imaging_times_h(n_days, interval_h=INTERVAL_H)
    histories = simulate_plate(layout_wells(n_wells), times_h=times, seed=seed)
    results = results_from_histories(histories, seed=seed, **kw)
    return histories, results


@pytest.fixture(scope="module")
def plate():
    histories, results = _plate(300, 21, seed=5, flag_fraction=0.05, missing_fraction=0.02)
    return histories, results, compute_endpoints(results)


def test_endpoints_recover_the_truth(plate) -> None:
    histories, _, endpoints = plate
    figures = endpoint_recovery(
        histories, endpoints, true_scd50=Scenario().true_scd50_gy, interval_h=INTERVAL_H
    )
    assert figures["n_treated"] == 240
    assert figures["fate_correct"] >= 0.95
    assert figures["time_within_interval"] >= 0.90
    assert figures["scd50_covered"] == 1.0


def test_results_line_up_with_the_store(plate) -> None:
    _, results, endpoints = plate
    np.testing.assert_array_equal(endpoints.well.values, results.well.values)
    for name in ("plate", "well_name", "field", "arm", "dose", "cell_line", "agent"):
        np.testing.assert_array_equal(endpoints[name].values, results[name].values)
    np.testing.assert_array_equal(endpoints.time_h.values, results.time_h.values)
    assert endpoints.relapse_free.dims == ("arm_name", "timepoint")
    assert list(endpoints.arm_name.values) == [
        "untreated", "RT 2.5 Gy", "RT 5 Gy", "RT 7.5 Gy", "RT 10 Gy",
    ]  # fmt: skip
    np.testing.assert_array_equal(endpoints.dose_level.values, [2.5, 5.0, 7.5, 10.0])
    assert json.loads(endpoints.attrs["endpoint_params"])["relapse_factor"] == 2.0
    # select one arm's spheroids with the results' coordinates
    arm = endpoints.sel(well=endpoints.arm == "RT 10 Gy")
    assert (arm.fate.values != "relapse").mean() > 0.9


def test_per_arm_and_per_dose_summaries_are_consistent(plate) -> None:
    _, _, endpoints = plate
    fate = endpoints.fate.values
    for k, arm in enumerate(endpoints.arm_name.values):
        sel = endpoints.arm.values == arm
        assert endpoints.n_spheroids.values[k] == sel.sum()
        assert endpoints.n_relapsed.values[k] == (endpoints.relapsed.values & sel).sum()
        rf = endpoints.relapse_free.values[k]
        assert rf[0] == 1.0 and (np.diff(rf) <= 1e-12).all()
        # the final relapse-free fraction is the controlled fraction (no censoring before the end)
        if arm != "untreated":
            known = sel & (fate != "unknown")
            assert rf[-1] == pytest.approx((fate[known] == "control").mean(), abs=0.03)
    scp = endpoints.scp.values
    assert (np.diff(scp) > 0).all()  # control rises with dose
    assert (endpoints.scp_lower.values <= scp).all() and (scp <= endpoints.scp_upper.values).all()
    # untreated spheroids are not in SCP; they have growth rates, treated ones do not
    assert endpoints.scp_n.values.sum() == ((fate == "control") | (fate == "relapse")).sum()
    untreated = endpoints.dose.values == 0
    assert np.isfinite(endpoints.growth_rate_per_h.values[untreated]).all()
    assert np.isnan(endpoints.growth_rate_per_h.values[~untreated]).all()


def test_growth_rate_and_delay(plate) -> None:
    histories, _, endpoints = plate
    # the fitted rate is the log-linear slope of the true volumes over the same window
    params = EndpointParams()
    truth = []
    for h in histories:
        if h.dose_gy == 0:
            window = h.times_h <= params.growth_fit_max_h
            truth.append(np.polyfit(h.times_h[window], np.log(h.volume_um3[window]), 1)[0])
    assert float(endpoints.untreated_growth_rate_per_h) == pytest.approx(np.median(truth), rel=0.1)
    doubling = float(endpoints.untreated_doubling_time_h)
    assert doubling == pytest.approx(math.log(2) / float(endpoints.untreated_growth_rate_per_h))
    assert Scenario().untreated_doubling_h < doubling < 1.5 * Scenario().untreated_doubling_h
    delay = endpoints.growth_delay_h.values
    assert delay[0] == 0.0  # untreated against itself
    assert delay[1] > 48.0  # 2.5 Gy delays regrowth by days
    assert np.isinf(delay[-1])  # most 10 Gy spheroids never regrow


def test_flagged_points_must_be_excluded_to_get_the_fates_right() -> None:
    histories, results = _plate(150, 15, seed=8, flag_fraction=0.1)
    truth = np.array([h.fate for h in histories])
    treated = truth != "untreated"

    def accuracy(**kw: object) -> float:
        fate = compute_endpoints(results, params=EndpointParams(**kw)).fate.values  # type: ignore[arg-type]
        return float(np.mean(fate[treated] == truth[treated]))

    # single-image rule: only leaving flagged images out gets the fates right
    assert accuracy(min_consecutive=1) >= 0.95
    assert accuracy(min_consecutive=1, exclude_flags=()) < 0.95
    # confirmation by a second image also guards against unflagged outliers
    assert accuracy(min_consecutive=1, exclude_flags=()) < accuracy(
        min_consecutive=2, exclude_flags=()
    )


def test_unknown_fate_without_a_baseline_or_follow_up() -> None:
    _, results = _plate(10, 6, seed=9, flag_fraction=0.0)
    results["status"][0, :2] = 3  # NO_IMAGE at 0 h and 24 h: no baseline
    results["status"][1, 2:] = 3  # seen only up to 24 h
    ends = compute_endpoints(results, params=EndpointParams(min_followup_h=72.0))
    assert ends.fate.values[0] == "unknown" and ends.fate.values[1] in ("unknown", "untreated")
    assert np.isnan(ends.duration_h.values[0])


def test_a_spheroid_seen_only_at_treatment_is_not_called_controlled() -> None:
    """One time point (or none after the baseline window) is no follow-up, even with the
    default ``min_followup_h`` of 0: the fate is unknown, not control."""
    _, results = _plate(12, 6, seed=9, flag_fraction=0.0)
    one = results.isel(timepoint=slice(0, 1))
    assert one.sizes["timepoint"] == 1
    fate = compute_endpoints(one).fate.values
    assert "control" not in set(fate) and "unknown" in set(fate)
    results["status"][:, 1:] = 3  # NO_IMAGE after 0 h: only the baseline was imaged
    assert "control" not in set(compute_endpoints(results).fate.values)


def test_missing_plate_map_is_an_error() -> None:
    _, results = _plate(5, 3, seed=1)
    with pytest.raises(ValueError, match="dose"):
        compute_endpoints(results.drop_vars("dose"))


@pytest.mark.parametrize("seed", range(100, 110))
def test_recovery_on_long_plates(seed: int) -> None:
    # 31 daily scans: slow regrowth makes relapse times the hardest to pin down. The SCD50
    # interval is a 95 % interval, so about 1 seed in 20 may miss; these ten do not.
    histories, results = _plate(300, 31, seed=seed, flag_fraction=0.05, missing_fraction=0.02)
    figures = endpoint_recovery(
        histories, compute_endpoints(results), true_scd50=5.0, interval_h=INTERVAL_H
    )
    assert figures["fate_correct"] >= 0.95 and figures["time_within_interval"] >= 0.90
    assert figures["scd50_covered"] == 1.0


def test_growth_delay_is_undetermined_when_the_untreated_median_is_not_reached() -> None:
    _, results = _plate(30, 3, seed=4, flag_fraction=0.0)  # 48 h: nothing triples
    endpoints = compute_endpoints(results)
    assert np.isinf(endpoints.median_time_to_factor_h.values[0])
    assert np.isnan(endpoints.growth_delay_h.values).all()
    assert endpoints.n_spheroids.dtype == np.int64


# --- the three tables one by one, on hand-made inputs with known answers -------------------

TIMES_H = np.array([0.0, 24.0, 48.0, 72.0])


def _curves() -> xr.Dataset:
    """Growth curves of four spheroids imaged at 0, 24, 48 and 72 h: untreated and doubling
    every 24 h; treated and regrowing to 3 x; treated and shrinking (its 48 h point
    excluded); treated without a baseline."""
    volume = (
        np.array(
            [
                [1.0, 2.0, 4.0, 8.0],
                [1.0, 0.8, 1.5, 3.0],
                [1.0, 0.8, 0.7, 0.6],
                [np.nan, 1.0, 1.0, 1.0],
            ]
        )
        * 1e6
    )
    usable = np.isfinite(volume)
    excluded = np.zeros_like(usable)
    usable[2, 2], excluded[2, 2] = False, True
    usable[3] = False
    dims = ("well", "timepoint")
    return xr.Dataset(
        {
            "volume_um3": (dims, volume),
            "image_time_h": (dims, np.tile(TIMES_H, (4, 1))),
            "usable": (dims, usable),
            "excluded": (dims, excluded),
            "baseline_volume_um3": ("well", [1e6, 1e6, 1e6, np.nan]),
            "baseline_time_h": ("well", [0.0, 0.0, 0.0, np.nan]),
        },
        coords={
            "dose": ("well", [0.0, 5.0, 5.0, 5.0]),
            "arm": ("well", np.array(["untreated", *["RT 5 Gy"] * 3], dtype=object)),
            "time_h": ("timepoint", TIMES_H),
        },
        attrs={"plate": "P1"},
    )


def test_spheroid_endpoints_call_each_spheroid() -> None:
    params = EndpointParams(min_consecutive=1, relapse_fit_half_width=0)
    ends = spheroid_endpoints(_curves(), params=params)
    assert all(var.dims == ("well",) for var in ends.data_vars.values())
    assert list(ends.arm.values) == list(_curves().arm.values)  # the curves' coordinates
    assert list(ends.fate.values) == ["untreated", "relapse", "control", "unknown"]
    np.testing.assert_array_equal(ends.relapsed.values, [True, True, False, False])
    # first image above 2 x the volume at treatment
    np.testing.assert_array_equal(ends.relapse_time_h.values, [48.0, 72.0, np.nan, np.nan])
    np.testing.assert_array_equal(ends.followup_h.values, [72.0, 72.0, 72.0, np.nan])
    np.testing.assert_array_equal(ends.duration_h.values, [48.0, 72.0, 72.0, np.nan])
    assert ends.nadir_volume_um3.values[2] == 0.6e6 and ends.nadir_time_h.values[2] == 72.0
    # 3 x: between 2 x at 24 h and 4 x at 48 h, interpolated in log volume
    assert ends.time_to_factor_h.values[0] == pytest.approx(24.0 + 24.0 * math.log2(1.5))
    assert ends.time_to_factor_h.values[1] == 72.0
    assert np.isnan(ends.time_to_factor_h.values[2:]).all()
    # growth rate of untreated spheroids only
    assert ends.growth_rate_per_h.values[0] == pytest.approx(math.log(2.0) / 24.0)
    assert ends.doubling_time_h.values[0] == pytest.approx(24.0)
    assert np.isnan(ends.growth_rate_per_h.values[1:]).all()
    np.testing.assert_array_equal(ends.n_usable.values, [4, 4, 3, 0])
    np.testing.assert_array_equal(ends.n_excluded.values, [0, 0, 1, 0])
    assert ends.relapse_time_h.attrs["units"] == "h"


def _spheroids() -> xr.Dataset:
    """Per-spheroid endpoints of six spheroids in three arms (hand-made)."""
    nan = np.nan
    return xr.Dataset(
        {
            "fate": ("well", np.array(["untreated", "untreated", "relapse", "control", "unknown",
                                       "relapse"], dtype=object)),
            "relapsed": ("well", [True, True, True, False, False, True]),
            "duration_h": ("well", [48.0, 72.0, 72.0, 72.0, nan, 24.0]),
            "time_to_factor_h": ("well", [40.0, 60.0, 70.0, nan, nan, 30.0]),
            "followup_h": ("well", [72.0, 72.0, 72.0, 72.0, nan, 72.0]),
            "growth_rate_per_h": ("well", [0.03, 0.01, nan, nan, nan, nan]),
        },
        coords={
            "arm": ("well", np.array(["untreated"] * 2 + ["RT 5 Gy"] * 3 + ["RT 2 Gy"],
                                     dtype=object)),
            "dose": ("well", [0.0, 0.0, 5.0, 5.0, 5.0, 2.0]),
        },
    )  # fmt: skip


def test_arm_endpoints_count_fates_and_follow_each_arm() -> None:
    times = xr.DataArray(TIMES_H, dims="timepoint", coords={"day": ("timepoint", TIMES_H / 24)})
    arms = arm_endpoints(_spheroids(), times_h=times, params=EndpointParams())
    assert list(arms.arm_name.values) == ["untreated", "RT 2 Gy", "RT 5 Gy"]  # by dose
    np.testing.assert_array_equal(arms.arm_dose.values, [0.0, 2.0, 5.0])
    np.testing.assert_array_equal(arms.n_spheroids.values, [2, 1, 3])
    np.testing.assert_array_equal(arms.n_relapsed.values, [2, 1, 1])
    np.testing.assert_array_equal(arms.n_controlled.values, [0, 0, 1])
    np.testing.assert_array_equal(arms.n_unknown.values, [0, 0, 1])
    assert arms.n_spheroids.dtype == np.int64
    # Kaplan-Meier without the unknown spheroid; the controlled one is censored at 72 h
    assert arms.relapse_free.dims == ("arm_name", "timepoint")
    np.testing.assert_allclose(arms.relapse_free.values[0], [1.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(arms.relapse_free.values[1], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(arms.relapse_free.values[2], [1.0, 1.0, 1.0, 0.5])
    np.testing.assert_array_equal(arms.day.values, TIMES_H / 24)  # the times' coordinates
    np.testing.assert_array_equal(arms.median_relapse_free_h.values, [48.0, 24.0, 72.0])
    np.testing.assert_array_equal(arms.median_time_to_factor_h.values, [40.0, 30.0, 70.0])
    # growth delay: against the untreated spheroids' median time to 3 x (40 h)
    np.testing.assert_array_equal(arms.growth_delay_h.values, [0.0, -10.0, 30.0])
    assert float(arms.untreated_growth_rate_per_h) == pytest.approx(0.02)
    assert float(arms.untreated_doubling_time_h) == pytest.approx(math.log(2.0) / 0.02)


def test_dose_endpoints_pool_treated_spheroids_of_known_fate_by_dose() -> None:
    fate = ["control", "relapse", "relapse", "relapse", "unknown",
            "control", "control", "control", "relapse", "untreated"]  # fmt: skip
    dose = [2.0] * 5 + [4.0] * 4 + [0.0]
    spheroids = xr.Dataset(
        {"fate": ("well", np.array(fate, dtype=object))},
        coords={"dose": ("well", dose), "dose_unit": ("well", np.array(["Gy"] * 10, dtype=object))},
    )
    doses = dose_endpoints(spheroids, params=EndpointParams())
    np.testing.assert_array_equal(doses.dose_level.values, [2.0, 4.0])
    assert doses.dose_level.attrs["units"] == "Gy" and doses.scd50.attrs["units"] == "Gy"
    np.testing.assert_array_equal(doses.scp_n.values, [4, 4])  # untreated and unknown left out
    np.testing.assert_array_equal(doses.scp_n_controlled.values, [1, 3])
    np.testing.assert_allclose(doses.scp.values, [0.25, 0.75])
    assert (doses.scp_lower.values < doses.scp.values).all()
    assert (doses.scp.values < doses.scp_upper.values).all()
    # symmetric about 3 Gy: the logistic fit's SCD50 is there
    assert float(doses.scd50) == pytest.approx(3.0, abs=1e-3)
    assert float(doses.scd_slope) > 0 and doses.scd_slope.attrs["units"] == "1/Gy"
    assert set(doses.dims) == {"dose_level"}


def test_the_endpoints_are_the_three_tables_together(plate) -> None:
    _, results, endpoints = plate
    params = EndpointParams()
    curves = growth_curves(results, params=params)
    xr.testing.assert_identical(endpoints_from_curves(curves, params=params), endpoints)
    spheroids = spheroid_endpoints(curves, params=params)
    arms = arm_endpoints(spheroids, times_h=evaluation_times(curves), params=params)
    doses = dose_endpoints(spheroids, params=params)
    for part in (spheroids, arms, doses):
        for name in part.data_vars:
            xr.testing.assert_identical(part[name], endpoints[name].drop_vars(
                [c for c in endpoints[name].coords if c not in part[name].coords]
            ))  # fmt: skip
    assert set(endpoints.data_vars) == {*spheroids.data_vars, *arms.data_vars, *doses.data_vars}


def test_evaluation_times_fall_back_on_the_images_times() -> None:
    curves = _curves().assign_coords(time_h=("timepoint", [0.0, np.nan, 48.0, np.nan]))
    curves["image_time_h"][:, 1] = [23.0, 25.0, 24.5, np.nan]
    times = evaluation_times(curves)
    assert times.dims == ("timepoint",)
    np.testing.assert_array_equal(times.values, [0.0, 24.5, 48.0, 72.0])


def test_parameters_come_back_from_their_json() -> None:
    params = EndpointParams(relapse_factor=3.0, exclude_flags=("no_object",), observation_end_h=96)
    assert EndpointParams.from_json(params.to_json()) == params
    assert EndpointParams.from_json(EndpointParams().to_json()) == EndpointParams()
