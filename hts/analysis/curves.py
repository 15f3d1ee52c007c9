"""Growth curves: volume and diameter over time per spheroid, with unusable points marked.

A spheroid is one position of the results store (plate, well, field); its identity is the
``spheroid_id`` coordinate ``"PLATE/B03/1"``, the same at every time point and across
re-runs. Points that are QC-flagged, failed or outside the observation window stay in the
curves and are marked ``usable == False``; fits use only usable points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hts.analysis.params import EndpointParams
from hts.results.schema import Status

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["baseline_volume", "growth_curves", "image_times_h", "usable_points"]


def usable_points(
    status: np.ndarray,
    qc_flags: np.ndarray,
    volume_um3: np.ndarray,
    times_h: np.ndarray,
    *,
    exclude_bits: int,
    observation_end_h: float | None = None,
) -> np.ndarray:
    """Which points enter fits: measured, no excluded QC flag, a known time in the window.

    Parameters
    ----------
    status, qc_flags : (W, T) int
        Per-image status (:class:`hts.results.Status`) and QC bits.
    volume_um3, times_h : (W, T) float
        Volume (cubic micrometres) and time since treatment (hours) of each image.
    exclude_bits : int
        QC bit mask; an image with any of these bits set is not usable.
    observation_end_h : float, optional
        Images after this time (hours) are not usable.

    Returns
    -------
    (W, T) bool
    """
    ok = (np.asarray(status) == Status.OK) & ((np.asarray(qc_flags) & exclude_bits) == 0)
    volume = np.asarray(volume_um3, dtype=np.float64)
    times = np.asarray(times_h, dtype=np.float64)
    ok &= np.isfinite(volume) & (volume > 0) & np.isfinite(times)
    if observation_end_h is not None:
        ok &= times <= observation_end_h
    return ok


def baseline_volume(
    times_h: np.ndarray, volume_um3: np.ndarray, usable: np.ndarray, *, max_h: float
) -> tuple[np.ndarray, np.ndarray]:
    """Volume at treatment: the first usable point at most ``max_h`` hours after treatment.

    Parameters
    ----------
    times_h, volume_um3 : (W, T) float
    usable : (W, T) bool
    max_h : float

    Returns
    -------
    volume_um3, time_h : (W,) float
        NaN for a spheroid without a usable point in the window.
    """
    times = np.asarray(times_h, dtype=np.float64)
    candidate = np.asarray(usable, dtype=bool) & (times <= max_h)
    order = np.where(candidate, times, np.inf)
    first = np.argmin(order, axis=1)
    rows = np.arange(times.shape[0])
    found = candidate[rows, first]
    v0 = np.where(found, np.asarray(volume_um3, dtype=np.float64)[rows, first], np.nan)
    t0 = np.where(found, times[rows, first], np.nan)
    return v0, t0


def image_times_h(results: xr.Dataset) -> xr.DataArray:
    """``(well, timepoint)`` time since treatment of each image, hours.

    The image's own time where known, else the time point's nominal ``time_h``.
    """
    per_image = results["time_since_treatment_h"]
    nominal = results["time_h"].broadcast_like(per_image)
    return per_image.where(np.isfinite(per_image), nominal)


def spheroid_ids(results: xr.Dataset) -> np.ndarray:
    """``(well,)`` object: ``"PLATE/B03/1"``, a spheroid's identity across time points."""
    return np.array(
        [
            f"{p}/{w}/{int(f)}"
            for p, w, f in zip(
                results["plate"].values,
                results["well_name"].values,
                results["field"].values,
                strict=True,
            )
        ],
        dtype=object,
    )


def growth_curves(results: xr.Dataset, *, params: EndpointParams | None = None) -> xr.Dataset:
    """Volume and diameter over time per spheroid, with each point's usability.

    Parameters
    ----------
    results : xarray.Dataset
        A results store (``hts.open_results``) or a selection of it: dims ``well`` x
        ``timepoint``.
    params : EndpointParams, optional
        Which QC flags exclude a point, the observation window and the baseline window.

    Returns
    -------
    xarray.Dataset
        Dims ``well`` x ``timepoint`` with the results' coordinates plus ``spheroid_id``.
        Variables: ``volume_um3``, ``diameter_um`` (NaN where not measured),
        ``image_time_h`` (hours since treatment), ``status``, ``qc_flags``, ``usable``
        (enters fits), ``excluded`` (measured but not usable: flagged or outside the
        window), ``baseline_volume_um3`` and ``baseline_time_h`` per spheroid, and
        ``relative_volume`` (volume over the baseline volume).
    """
    import xarray as xr

    params = EndpointParams() if params is None else params
    ds = results[["volume_um3", "diameter_um", "status", "qc_flags", "time_since_treatment_h"]]
    ds = ds.load()
    times = image_times_h(ds)
    usable = usable_points(
        ds["status"].values,
        ds["qc_flags"].values,
        ds["volume_um3"].values,
        times.values,
        exclude_bits=params.exclude_bits,
        observation_end_h=params.observation_end_h,
    )
    measured = (ds["status"].values == Status.OK) & np.isfinite(ds["volume_um3"].values)
    v0, t0 = baseline_volume(
        times.values, ds["volume_um3"].values, usable, max_h=params.baseline_max_h
    )
    dims = ("well", "timepoint")
    out = xr.Dataset(
        {
            "volume_um3": ds["volume_um3"],
            "diameter_um": ds["diameter_um"],
            "image_time_h": times.assign_attrs(units="h", long_name="time since treatment"),
            "status": ds["status"],
            "qc_flags": ds["qc_flags"],
            "usable": (dims, usable, {"long_name": "point enters fits"}),
            "excluded": (
                dims,
                measured & ~usable,
                {"long_name": "measured, but QC-flagged or outside the observation window"},
            ),
            "baseline_volume_um3": (
                "well",
                v0,
                {"units": "um3", "long_name": "volume at treatment"},
            ),
            "baseline_time_h": ("well", t0, {"units": "h", "long_name": "time of the baseline"}),
        },
        coords=ds.coords,
        attrs=dict(results.attrs),
    )
    out["relative_volume"] = (out["volume_um3"] / out["baseline_volume_um3"]).assign_attrs(
        units="1", long_name="volume relative to the volume at treatment"
    )
    return out.assign_coords(spheroid_id=("well", spheroid_ids(ds)))
