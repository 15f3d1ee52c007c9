"""A results-like Dataset straight from simulated histories: endpoints against known truth.

Segmentation is skipped: each image's measurement is the true spheroid body's size with
multiplicative noise, and a chosen fraction of images is QC-flagged with a grossly wrong
volume (as a debris cloud or a cut-off spheroid would give), so an analysis that does not
leave flagged points out calls the wrong fate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hts.measure.qc import QC_BITS
from hts.results.schema import VARIABLES, Status

if TYPE_CHECKING:
    import xarray as xr

    from hts.synth.growth import SpheroidHistory

__all__ = ["endpoint_recovery", "results_from_histories"]

_TRUTH_TAG = 7


def results_from_histories(
    histories: Sequence[SpheroidHistory],
    *,
    plate: str = "SYN01",
    agent: str = "X-ray",
    cell_line: str = "FaDu",
    diameter_noise: float = 0.02,
    flag_fraction: float = 0.05,
    missing_fraction: float = 0.0,
    seed: int = 0,
) -> xr.Dataset:
    """Dataset shaped like ``hts.open_results(...)`` from simulated spheroid histories.

    Parameters
    ----------
    histories : sequence of SpheroidHistory
        One per well, all with the same ``times_h``.
    plate, agent, cell_line : str
        Plate-map values (the untreated arm's agent is ``"none"``).
    diameter_noise : float
        Relative standard deviation of the measured diameter.
    flag_fraction : float
        Fraction of images that get a random QC flag (any but ``multiple_objects``) and a
        volume 3-8 times too large or 3-8 times too small.
    missing_fraction : float
        Fraction of images with status ``NO_IMAGE`` (never the first of a well).
    seed : int

    Returns
    -------
    xarray.Dataset
        Dims ``well`` x ``timepoint``, the results store's variables and coordinates.
    """
    import xarray as xr

    times = np.asarray(histories[0].times_h, dtype=np.float64)
    n_w, n_t = len(histories), times.size
    rng = np.random.default_rng(np.random.SeedSequence([seed, _TRUTH_TAG]))
    diameter = np.stack([h.diameter_um for h in histories])
    diameter = diameter * np.exp(rng.normal(0.0, diameter_noise, diameter.shape))
    volume = np.pi * diameter**3 / 6.0

    flagged = rng.random((n_w, n_t)) < flag_fraction
    # the flags that mark a doubtful measurement; a second object beside the spheroid
    # (multiple_objects) is no sign of a wrong volume
    bits = np.array([1 << b for name, b in QC_BITS.items() if name != "multiple_objects"])
    qc = np.where(flagged, rng.choice(bits, size=(n_w, n_t)), 0).astype(np.uint16)
    wrong = rng.uniform(3.0, 8.0, (n_w, n_t)) ** rng.choice([-1.0, 1.0], size=(n_w, n_t))
    volume = np.where(flagged, volume * wrong, volume)
    diameter = np.cbrt(6.0 * volume / np.pi)
    status = np.full((n_w, n_t), int(Status.OK), dtype=np.int8)
    missing = rng.random((n_w, n_t)) < missing_fraction
    missing[:, 0] = False
    status[missing] = int(Status.NO_IMAGE)

    area = np.pi * diameter**2 / 4.0
    measured = {
        "area_um2": area,
        "perimeter_um": np.pi * diameter,
        "diameter_um": diameter,
        "volume_um3": volume,
        "circularity": np.ones_like(area),
        "centroid_y_um": np.full_like(area, 500.0),
        "centroid_x_um": np.full_like(area, 500.0),
    }
    dims = ("well", "timepoint")
    data: dict[str, tuple[tuple[str, str], np.ndarray, dict[str, str]]] = {}
    for spec in VARIABLES:
        if spec.name in measured:
            values = np.where(missing, np.nan, measured[spec.name])
        elif spec.name == "n_objects":
            values = np.where(missing, -1, 1).astype(np.int16)
        elif spec.name == "qc_flags":
            values = np.where(missing, 0, qc).astype(np.uint16)
        elif spec.name == "status":
            values = status
        elif spec.name == "model_id":
            values = np.where(missing, "", "truth").astype(object)
        elif spec.name == "time_since_treatment_h":
            values = np.where(missing, np.nan, np.broadcast_to(times, (n_w, n_t)))
        else:
            values = np.full((n_w, n_t), spec.fill, dtype=object)
        data[spec.name] = (dims, values, dict(spec.attrs))

    replicate: dict[str, int] = {}
    replicates = []
    for h in histories:
        replicate[h.arm] = replicate.get(h.arm, 0) + 1
        replicates.append(str(replicate[h.arm]))
    text = {
        "plate": [plate] * n_w,
        "well_name": [h.well.name for h in histories],
        "row": [h.well.row for h in histories],
        "cell_line": [cell_line] * n_w,
        "agent": ["none" if h.dose_gy == 0 else agent for h in histories],
        "dose_unit": ["Gy"] * n_w,
        "arm": [h.arm for h in histories],
        "replicate": replicates,
    }
    coords: dict[str, tuple[str, np.ndarray]] = {
        "well": ("well", np.array([h.well.name for h in histories], dtype=object)),
        **{k: ("well", np.array(v, dtype=object)) for k, v in text.items()},
        "column": ("well", np.array([h.well.column for h in histories], dtype=np.int16)),
        "field": ("well", np.ones(n_w, dtype=np.int16)),
        "dose": ("well", np.array([h.dose_gy for h in histories], dtype=np.float64)),
        "timepoint": ("timepoint", np.arange(n_t, dtype=np.int32)),
        "time_h": ("timepoint", times),
        "day": ("timepoint", times / 24.0),
        "timepoint_label": ("timepoint", np.array([f"{t:g} h" for t in times], dtype=object)),
    }
    return xr.Dataset(
        data,
        coords=coords,
        attrs={"plate": plate, "schema_version": 1, "source": "hts.synth.results"},
    )


def endpoint_recovery(
    histories: Sequence[SpheroidHistory],
    endpoints: xr.Dataset,
    *,
    true_scd50: float,
    interval_h: float,
) -> dict[str, float]:
    """How well endpoints computed from a simulated plate recover the simulation's truth.

    Parameters
    ----------
    histories : sequence of SpheroidHistory
        The truth, one per well, in the order of ``endpoints``' ``well`` dim.
    endpoints : xarray.Dataset
        :func:`hts.analysis.compute_endpoints` output.
    true_scd50 : float
        The scenario's ``true_scd50_gy``.
    interval_h : float
        Imaging interval, hours.

    Returns
    -------
    dict
        ``n_treated``, ``fate_correct`` (fraction of treated spheroids whose relapse/control
        call is right; "unknown" counts as wrong), ``n_relapsed``, ``time_within_interval``
        (fraction of truly relapsed spheroids whose relapse time is within ``interval_h``
        of the truth), ``scd50``, ``scd50_lower``, ``scd50_upper``, ``scd50_covered``
        (1.0 if the true SCD50 lies in the interval).
    """
    truth = np.array([h.fate for h in histories])
    called = np.asarray(endpoints["fate"].values).astype(str)
    treated = truth != "untreated"
    relapsed = truth == "relapse"
    true_time = np.array([h.relapse_time_h for h in histories])
    error = np.abs(np.asarray(endpoints["relapse_time_h"].values) - true_time)
    lower, upper = float(endpoints["scd50_lower"]), float(endpoints["scd50_upper"])
    return {
        "n_treated": float(treated.sum()),
        "fate_correct": float(np.mean(called[treated] == truth[treated])),
        "n_relapsed": float(relapsed.sum()),
        "time_within_interval": float(
            np.mean(np.nan_to_num(error[relapsed], nan=np.inf) <= interval_h)
        ),
        "scd50": float(endpoints["scd50"]),
        "scd50_lower": lower,
        "scd50_upper": upper,
        "scd50_covered": float(lower <= true_scd50 <= upper),
    }
