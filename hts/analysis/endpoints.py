"""Treatment endpoints of a results store: fate per spheroid, per-arm and per-dose summaries.

Orchestration only: the kernels live in :mod:`~hts.analysis.curves`,
:mod:`~hts.analysis.relapse`, :mod:`~hts.analysis.growth`, :mod:`~hts.analysis.survival`
and :mod:`~hts.analysis.dose_response`; this module lines their outputs up with the results
store's coordinates.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from hts.analysis.curves import growth_curves
from hts.analysis.dose_response import binomial_ci, fit_logistic
from hts.analysis.growth import exponential_growth_rate, time_to_factor
from hts.analysis.params import EndpointParams
from hts.analysis.relapse import detect_relapse
from hts.analysis.survival import kaplan_meier

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "FATES",
    "arm_endpoints",
    "compute_endpoints",
    "dose_endpoints",
    "endpoints_from_curves",
    "evaluation_times",
    "spheroid_endpoints",
]

log = logging.getLogger(__name__)

#: Fates a spheroid can be given; ``unknown``: too few usable points to call it.
FATES: tuple[str, ...] = ("untreated", "control", "relapse", "unknown")


def _fates(
    dose: np.ndarray,
    has_baseline: np.ndarray,
    relapsed: np.ndarray,
    last_time_h: np.ndarray,
    params: EndpointParams,
) -> np.ndarray:
    """(W,) object fate per spheroid (see :data:`FATES`)."""
    # Control needs follow-up past the baseline window: a spheroid seen only at treatment
    # (one time point) has not been followed at all, whatever min_followup_h says.
    last = np.nan_to_num(last_time_h, nan=-np.inf)
    followed = (last >= params.min_followup_h) & (last > params.baseline_max_h)
    fate = np.where(relapsed, "relapse", np.where(followed, "control", "unknown"))
    fate = np.where(dose == params.untreated_dose, "untreated", fate)
    return np.where(has_baseline, fate, "unknown").astype(object)


def _eval_times(curves: xr.Dataset) -> np.ndarray:
    """(T,) time of each time point: nominal, else the median of its images' times."""
    nominal = curves["time_h"].values.astype(np.float64)
    if np.isfinite(nominal).all():
        return nominal
    with np.errstate(all="ignore"):
        observed = np.array(
            [
                np.nanmedian(col) if np.isfinite(col).any() else np.nan
                for col in curves["image_time_h"].values.T
            ]
        )
    return np.where(np.isfinite(nominal), nominal, observed)


def _arm_order(arms: np.ndarray, dose: np.ndarray) -> list[str]:
    """Arm names ordered by dose, then name."""
    first: dict[str, float] = {}
    for arm, d in zip(arms, dose, strict=True):
        first.setdefault(str(arm), float(d))
    return sorted(first, key=lambda a: (np.nan_to_num(first[a], nan=np.inf), a))


def compute_endpoints(results: xr.Dataset, *, params: EndpointParams | None = None) -> xr.Dataset:
    """Relapse or control, Kaplan-Meier curves, SCP and SCD50, growth delay and growth rate.

    The composition of :func:`~hts.analysis.growth_curves`, :func:`spheroid_endpoints`,
    :func:`arm_endpoints` and :func:`dose_endpoints`; where the growth curves are at hand
    already, :func:`endpoints_from_curves` skips recomputing them.

    Parameters
    ----------
    results : xarray.Dataset
        A results store (``hts.open_results``) or a selection of its wells: dims ``well`` x
        ``timepoint`` with the ``dose`` and ``arm`` coordinates.
    params : EndpointParams, optional
        Thresholds and windows; ``EndpointParams()`` by default.

    Returns
    -------
    xarray.Dataset
        Per spheroid (dim ``well``): the variables of :func:`spheroid_endpoints`.
        Per arm (dim ``arm_name``; ``relapse_free*`` also over the results' ``timepoint``):
        those of :func:`arm_endpoints`. Per treated dose (dim ``dose_level``) and the
        SCD50 scalars: those of :func:`dose_endpoints`.
        ``attrs["endpoint_params"]`` holds the parameters as JSON.
    """
    params = EndpointParams() if params is None else params
    _require_plate_map(results)
    return endpoints_from_curves(growth_curves(results, params=params), params=params)


def endpoints_from_curves(
    curves: xr.Dataset, *, params: EndpointParams | None = None
) -> xr.Dataset:
    """:func:`compute_endpoints` of growth curves computed already (with the same ``params``).

    Parameters
    ----------
    curves : xarray.Dataset
        :func:`~hts.analysis.growth_curves` of a results store with the ``dose`` and ``arm``
        coordinates.
    params : EndpointParams, optional
        Thresholds and windows; ``EndpointParams()`` by default.

    Returns
    -------
    xarray.Dataset
        As :func:`compute_endpoints`; its attributes are the curves' (the results store's)
        plain ones plus ``endpoint_params`` and ``confidence``.
    """
    import xarray as xr

    params = EndpointParams() if params is None else params
    _require_plate_map(curves)
    spheroids = spheroid_endpoints(curves, params=params)
    arms = arm_endpoints(spheroids, times_h=evaluation_times(curves), params=params)
    doses = dose_endpoints(spheroids, params=params)
    # variables in the order they were always stored: per spheroid, per arm, per dose, then
    # the untreated growth scalars
    untreated = [k for k in arms.data_vars if str(k).startswith("untreated_")]
    parts = (spheroids, arms.drop_vars(untreated), doses, arms[untreated])
    ds = xr.Dataset(
        {k: v.variable for part in parts for k, v in part.data_vars.items()},
        coords={
            **{k: v for k, v in curves.coords.items()},
            "arm_name": ("arm_name", arms["arm_name"].values),
            "dose_level": ("dose_level", doses["dose_level"].values, doses["dose_level"].attrs),
        },
    )
    ds.attrs = {
        **{k: v for k, v in curves.attrs.items() if isinstance(v, str | int | float)},
        "endpoint_params": params.to_json(),
        "confidence": params.confidence,
    }
    log.info(
        "endpoints: %d spheroids, %d relapsed, %d controlled, SCD50 %.3g (%.3g-%.3g)",
        ds.sizes["well"], int(ds["relapsed"].values.sum()),
        int((ds["fate"].values == "control").sum()), float(ds["scd50"]),
        float(ds["scd50_lower"]), float(ds["scd50_upper"]),
    )  # fmt: skip
    return ds


def _require_plate_map(ds: xr.Dataset) -> None:
    for name in ("dose", "arm"):
        if name not in ds.coords:
            raise ValueError(f"results have no {name!r} coordinate (was a plate map ingested?)")


def spheroid_endpoints(curves: xr.Dataset, *, params: EndpointParams) -> xr.Dataset:
    """Per spheroid: its fate, relapse time, follow-up, growth delay and growth rate.

    Parameters
    ----------
    curves : xarray.Dataset
        :func:`~hts.analysis.growth_curves` output, with the ``dose`` coordinate.
    params : EndpointParams

    Returns
    -------
    xarray.Dataset
        Dim ``well``, with the curves' coordinates: ``fate`` (one of :data:`FATES`),
        ``relapsed``, ``relapse_time_h``, ``followup_h`` (last usable image),
        ``duration_h`` (relapse time, else follow-up: the Kaplan-Meier duration; NaN where
        the fate is unknown), ``baseline_volume_um3``, ``nadir_volume_um3``,
        ``nadir_time_h``, ``threshold_volume_um3``, ``time_to_factor_h``,
        ``growth_rate_per_h`` and ``doubling_time_h`` (untreated only), ``n_usable``,
        ``n_excluded``.
    """
    import xarray as xr

    times = curves["image_time_h"].values
    volume = curves["volume_um3"].values
    usable = curves["usable"].values
    v0 = curves["baseline_volume_um3"].values
    t0 = curves["baseline_time_h"].values
    dose = curves["dose"].values.astype(np.float64)

    calls = detect_relapse(
        times, volume, usable, v0, t0,
        factor=params.relapse_factor, reference=params.relapse_reference,
        min_consecutive=params.min_consecutive, fit_half_width=params.relapse_fit_half_width,
    )  # fmt: skip
    fate = _fates(dose, np.isfinite(v0), calls.relapsed, calls.last_time_h, params)
    known = fate != "unknown"
    relapsed = calls.relapsed & known
    duration = np.where(relapsed, calls.relapse_time_h, calls.last_time_h)
    duration = np.where(known, duration, np.nan)
    # its follow-up (censoring time) is the last usable point after the baseline: followup_h
    t_factor, _ = time_to_factor(
        times, volume, usable, v0, t0,
        factor=params.growth_delay_factor, min_consecutive=params.min_consecutive,
    )  # fmt: skip
    rate = exponential_growth_rate(times, volume, usable, t0, max_h=params.growth_fit_max_h)
    rate = np.where(dose == params.untreated_dose, rate, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        doubling = np.where(rate > 0, math.log(2.0) / rate, np.nan)

    h = {"units": "h"}
    um3 = {"units": "um3"}
    return xr.Dataset(
        {
            "fate": ("well", fate, {"long_name": "relapse, control, untreated or unknown"}),
            "relapsed": ("well", relapsed),
            "relapse_time_h": ("well", np.where(relapsed, calls.relapse_time_h, np.nan), h),
            "followup_h": ("well", calls.last_time_h, {**h, "long_name": "last usable image"}),
            "duration_h": ("well", duration, {**h, "long_name": "relapse time, else follow-up"}),
            "baseline_volume_um3": ("well", v0, um3),
            "nadir_volume_um3": ("well", calls.nadir_volume_um3, um3),
            "nadir_time_h": ("well", calls.nadir_time_h, h),
            "threshold_volume_um3": ("well", calls.threshold_volume_um3, um3),
            "time_to_factor_h": (
                "well", t_factor,
                {**h, "long_name": "time to reach growth_delay_factor x the volume at treatment"},
            ),
            "growth_rate_per_h": ("well", rate, {"units": "1/h"}),
            "doubling_time_h": ("well", doubling, h),
            "n_usable": ("well", usable.sum(axis=1).astype(np.int32)),
            "n_excluded": ("well", curves["excluded"].values.sum(axis=1).astype(np.int32)),
        },
        coords=curves.coords,
    )  # fmt: skip


def evaluation_times(curves: xr.Dataset) -> xr.DataArray:
    """(timepoint,) hours since treatment at which the per-arm curves are evaluated.

    Each time point's nominal time, else the median of its images' times; NaN where
    neither is known. Carries the curves' ``timepoint`` coordinates.
    """
    return curves["time_h"].copy(data=_eval_times(curves)).reset_coords(drop=True)


def arm_endpoints(
    spheroids: xr.Dataset, *, times_h: xr.DataArray, params: EndpointParams
) -> xr.Dataset:
    """Per arm: counts of fates, Kaplan-Meier relapse-free curves, growth delay.

    Parameters
    ----------
    spheroids : xarray.Dataset
        :func:`spheroid_endpoints` output (dim ``well``, with the ``arm`` and ``dose``
        coordinates).
    times_h : xarray.DataArray
        (timepoint,) hours since treatment at which the curves are evaluated
        (:func:`evaluation_times`); its coordinates go to the curves.
    params : EndpointParams

    Returns
    -------
    xarray.Dataset
        Dim ``arm_name`` (arms ordered by dose, then name): ``arm_dose``, ``n_spheroids``,
        ``n_relapsed``, ``n_controlled``, ``n_unknown``, ``median_relapse_free_h``,
        ``median_time_to_factor_h``, ``growth_delay_h`` (the arm's median time to
        ``growth_delay_factor`` minus the untreated spheroids' pooled one); over
        (``arm_name``, ``timepoint``): ``relapse_free``, ``relapse_free_lower``,
        ``relapse_free_upper``. Scalars: ``untreated_growth_rate_per_h`` (median over the
        untreated spheroids) and ``untreated_doubling_time_h``.
    """
    import xarray as xr

    dose = spheroids["dose"].values.astype(np.float64)
    arms = np.array([str(a) for a in spheroids["arm"].values], dtype=object)
    fate = spheroids["fate"].values
    relapsed = spheroids["relapsed"].values
    duration = spheroids["duration_h"].values
    t_factor = spheroids["time_to_factor_h"].values
    followup = spheroids["followup_h"].values
    rate = spheroids["growth_rate_per_h"].values
    known = fate != "unknown"
    untreated = dose == params.untreated_dose
    eval_times = np.asarray(times_h.values, dtype=np.float64)

    order = _arm_order(arms, dose)
    rf = np.full((len(order), eval_times.size, 3), np.nan)
    per_arm: dict[str, list[float]] = {
        k: []
        for k in ("arm_dose", "n_spheroids", "n_relapsed", "n_controlled", "n_unknown",
                  "median_relapse_free_h", "median_time_to_factor_h")
    }  # fmt: skip
    for i, arm in enumerate(order):
        sel = arms == arm
        km = kaplan_meier(duration[sel], relapsed[sel], eval_times, confidence=params.confidence)
        rf[i] = np.stack([km.survival, km.lower, km.upper], axis=-1)
        reach = kaplan_meier(
            np.where(np.isfinite(t_factor), t_factor, followup)[sel],
            np.isfinite(t_factor)[sel],
            eval_times,
            confidence=params.confidence,
        )
        per_arm["arm_dose"].append(float(dose[sel][0]))
        per_arm["n_spheroids"].append(int(sel.sum()))
        per_arm["n_relapsed"].append(int((relapsed & sel).sum()))
        per_arm["n_controlled"].append(int((sel & (fate == "control")).sum()))
        per_arm["n_unknown"].append(int((sel & ~known).sum()))
        per_arm["median_relapse_free_h"].append(km.median_h)
        per_arm["median_time_to_factor_h"].append(reach.median_h)
    control_median = _pooled_median(t_factor, followup, untreated, eval_times, params)
    # an untreated median beyond the window leaves every delay undetermined
    growth_delay = np.array(per_arm["median_time_to_factor_h"]) - (
        control_median if np.isfinite(control_median) else np.nan
    )
    untreated_rate = float(np.nanmedian(rate)) if np.isfinite(rate).any() else math.nan

    h = {"units": "h"}
    curve_dims = ("arm_name", "timepoint")
    return xr.Dataset(
        {
            **{
                k: (
                    "arm_name",
                    np.asarray(v, dtype=np.int64 if k.startswith("n_") else np.float64),
                    h if k.endswith("_h") else {},
                )
                for k, v in per_arm.items()
            },
            "growth_delay_h": (
                "arm_name",
                growth_delay,
                {**h, "long_name": "median time to growth_delay_factor minus the untreated one"},
            ),
            "relapse_free": (curve_dims, rf[..., 0], {"long_name": "Kaplan-Meier"}),
            "relapse_free_lower": (curve_dims, rf[..., 1]),
            "relapse_free_upper": (curve_dims, rf[..., 2]),
            "untreated_growth_rate_per_h": ((), untreated_rate, {"units": "1/h"}),
            "untreated_doubling_time_h": (
                (),
                math.log(2.0) / untreated_rate if untreated_rate > 0 else math.nan,
                h,
            ),
        },
        coords={
            **{k: v for k, v in times_h.coords.items()},
            "arm_name": ("arm_name", np.array(order, dtype=object)),
        },
    )


def dose_endpoints(spheroids: xr.Dataset, *, params: EndpointParams) -> xr.Dataset:
    """Per treated dose: spheroid control probability (SCP); the SCD50 logistic fit.

    Spheroids of unknown fate and untreated ones are left out; SCP pools the treated
    spheroids by dose alone (a warning is logged when several cell lines or agents mix).

    Parameters
    ----------
    spheroids : xarray.Dataset
        :func:`spheroid_endpoints` output (dim ``well``, with the ``dose`` coordinate and,
        where known, ``dose_unit``, ``cell_line`` and ``agent``).
    params : EndpointParams

    Returns
    -------
    xarray.Dataset
        Dim ``dose_level`` (treated doses, ascending, with the dose's ``units``): ``scp_n``,
        ``scp_n_controlled``, ``scp``, ``scp_lower``, ``scp_upper`` (Clopper-Pearson).
        Scalars: ``scd50``, ``scd50_lower``, ``scd50_upper`` (profile likelihood),
        ``scd50_se`` (Wald), ``scd_slope``.
    """
    import xarray as xr

    dose = spheroids["dose"].values.astype(np.float64)
    fate = spheroids["fate"].values
    untreated = dose == params.untreated_dose
    treated = (fate != "unknown") & ~untreated & np.isfinite(dose)
    levels = np.unique(dose[treated])
    n_dose = np.array([(treated & (dose == d)).sum() for d in levels], dtype=np.int64)
    n_ctrl = np.array(
        [(treated & (dose == d) & (fate == "control")).sum() for d in levels], dtype=np.int64
    )
    lower, upper = binomial_ci(n_ctrl, n_dose, confidence=params.confidence)
    _warn_mixed(spheroids, treated)
    fit = fit_logistic(dose[treated], fate[treated] == "control", confidence=params.confidence)
    unit = _dose_unit(spheroids)
    return xr.Dataset(
        {
            "scp_n": ("dose_level", n_dose),
            "scp_n_controlled": ("dose_level", n_ctrl),
            "scp": ("dose_level", np.where(n_dose > 0, n_ctrl / np.maximum(n_dose, 1), np.nan)),
            "scp_lower": ("dose_level", lower),
            "scp_upper": ("dose_level", upper),
            "scd50": ((), fit.scd50, {"units": unit}),
            "scd50_lower": ((), fit.ci_lower, {"units": unit}),
            "scd50_upper": ((), fit.ci_upper, {"units": unit}),
            "scd50_se": ((), fit.se, {"units": unit}),
            "scd_slope": ((), fit.slope, {"units": f"1/{unit}" if unit else ""}),
        },
        coords={"dose_level": ("dose_level", levels, {"units": unit})},
    )


def _pooled_median(
    t_factor: np.ndarray,
    followup: np.ndarray,
    untreated: np.ndarray,
    eval_times: np.ndarray,
    params: EndpointParams,
) -> float:
    """Kaplan-Meier median time to the growth-delay factor of all untreated spheroids."""
    if not untreated.any():
        return math.nan
    reached = np.isfinite(t_factor)
    km = kaplan_meier(
        np.where(reached, t_factor, followup)[untreated],
        reached[untreated],
        eval_times,
        confidence=params.confidence,
    )
    return km.median_h


def _dose_unit(spheroids: xr.Dataset) -> str:
    if "dose_unit" not in spheroids.coords:
        return ""
    units = {str(u) for u in spheroids["dose_unit"].values if str(u)}
    return units.pop() if len(units) == 1 else ""


def _warn_mixed(spheroids: xr.Dataset, treated: np.ndarray) -> None:
    """SCP pools spheroids by dose alone: say so when several agents or cell lines mix."""
    combos = {
        (str(c), str(a))
        for c, a, t in zip(
            spheroids["cell_line"].values
            if "cell_line" in spheroids.coords
            else [""] * treated.size,
            spheroids["agent"].values if "agent" in spheroids.coords else [""] * treated.size,
            treated,
            strict=True,
        )
        if t
    }
    if len(combos) > 1:
        log.warning(
            "treated spheroids span %d (cell line, agent) pairs; SCP and SCD50 pool them by "
            "dose. Select one pair first (see docs/analysis.md).",
            len(combos),
        )
