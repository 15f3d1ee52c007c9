"""Fate and growth of simulated spheroids after treatment (pure, no images).

Each well holds one spheroid. Time 0 is treatment. Untreated spheroids grow along a
Gompertz curve. A treated spheroid is either *controlled* or *relapses*; the control
probability follows a logistic dose-response whose midpoint is the scenario's
``true_scd50_gy``, so an analysis of the simulated plate can be checked against it.

Treated spheroids keep growing briefly, then shrink towards a nadir, shed debris and may
detach, leaving a small remnant. Relapsing ones regrow (Gompertz) from their nadir or
remnant. The regrowth is timed so that the volume passes ``relapse_volume_factor`` times the
volume at treatment inside the imaged window: every ``"relapse"`` spheroid is seen to
relapse, whatever the window length, and the controlled fraction per dose is exactly the
logistic model's. The true relapse time is the first imaging time at which the volume
exceeds that threshold, the same rule an analysis applies to measured volumes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hts.wells import WellId

__all__ = [
    "FATES",
    "Scenario",
    "SpheroidHistory",
    "arm_label",
    "assign_arms",
    "control_probability",
    "imaging_times_h",
    "simulate_plate",
    "simulate_spheroid",
]

#: Possible fates of a simulated spheroid.
FATES: tuple[str, ...] = ("untreated", "control", "relapse")

_HOURS_PER_DAY = 24.0
# Seed-sequence keys have a fixed length and a domain tag: SeedSequence([1, 2]) and
# SeedSequence([1, 2, 0]) give the same stream, so keys of different lengths could collide.
_GROWTH_TAG = 1


@dataclass(frozen=True)
class Scenario:
    """Parameters of a simulated long-term spheroid assay (one cell line, one agent).

    Attributes
    ----------
    cell_line, agent : str
        Labels written to the plate map; the untreated arm's agent is ``"none"``.
    doses_gy : tuple of float
        One arm per dose, in Gy; a dose of 0 is the untreated control arm.
    true_scd50_gy : float
        Dose (Gy) at which half of the treated spheroids are controlled.
    scd_slope_per_gy : float
        Slope of the logistic dose-response, 1/Gy.
    diameter0_um : (float, float)
        Range of spheroid diameters at treatment, micrometres (uniform).
    max_diameter_um : float
        Mean Gompertz plateau diameter of untreated or relapsing spheroids, micrometres.
    untreated_doubling_h : float
        Initial volume doubling time of untreated spheroids, hours.
    relapse_volume_factor : float
        Relapse = volume exceeds this multiple of the volume at treatment.
    detach_probability_per_gy : float
        Probability per Gy that a treated spheroid detaches to a small remnant (capped at 0.8).
    remnant_diameter_um : (float, float)
        Range of remnant diameters after detachment, micrometres.
    twin_probability : float
        Probability that a well holds a second, smaller spheroid next to the main one.
    """

    cell_line: str = "FaDu"
    agent: str = "X-ray"
    doses_gy: tuple[float, ...] = (0.0, 2.5, 5.0, 7.5, 10.0)
    true_scd50_gy: float = 5.0
    scd_slope_per_gy: float = 1.2
    diameter0_um: tuple[float, float] = (300.0, 450.0)
    max_diameter_um: float = 950.0
    untreated_doubling_h: float = 60.0
    relapse_volume_factor: float = 2.0
    detach_probability_per_gy: float = 0.04
    remnant_diameter_um: tuple[float, float] = (70.0, 150.0)
    twin_probability: float = 0.02

    def __post_init__(self) -> None:
        if not self.doses_gy or any(d < 0 for d in self.doses_gy):
            raise ValueError(f"doses_gy must be non-empty and >= 0, got {self.doses_gy}")
        if self.relapse_volume_factor <= 1.0:
            raise ValueError("relapse_volume_factor must be > 1")
        lo, hi = self.diameter0_um
        if not 0 < lo <= hi < self.max_diameter_um:
            raise ValueError("need 0 < diameter0_um[0] <= diameter0_um[1] < max_diameter_um")


@dataclass(frozen=True, eq=False)
class SpheroidHistory:
    """True course of one spheroid over the imaging times (arrays are read-only).

    Attributes
    ----------
    well : WellId
    arm : str
        ``"untreated"`` or e.g. ``"RT 5 Gy"``.
    dose_gy : float
    fate : str
        One of :data:`FATES`.
    relapse_time_h : float
        First imaging time (hours after treatment) at which the volume exceeds the relapse
        threshold; NaN unless ``fate == "relapse"``.
    times_h : (T,) float64
        Imaging times, hours after treatment; ``times_h[0] == 0``.
    diameter_um : (T,) float64
        Equivalent-circle diameter of the spheroid body (never the debris), micrometres.
    debris : (T,) float64
        Amount of dead-cell debris around the spheroid, 0 (none) to 1 (dense cloud).
    detach_time_h : float
        Time the spheroid detached to a remnant, hours; NaN if it never did.
    twin_ratio : float
        Diameter of a second spheroid in the well relative to the main one; 0 if none.
    """

    well: WellId
    arm: str
    dose_gy: float
    fate: str
    relapse_time_h: float
    times_h: np.ndarray = field(repr=False)
    diameter_um: np.ndarray = field(repr=False)
    debris: np.ndarray = field(repr=False)
    detach_time_h: float = math.nan
    twin_ratio: float = 0.0

    @property
    def volume_um3(self) -> np.ndarray:
        """(T,) float64 sphere-equivalent volume ``pi d^3 / 6``, cubic micrometres."""
        return np.pi * self.diameter_um**3 / 6.0

    @property
    def diameter_at_treatment_um(self) -> float:
        """Diameter at time 0, micrometres."""
        return float(self.diameter_um[0])


def imaging_times_h(n_timepoints: int, *, interval_h: float = 24.0) -> np.ndarray:
    """(T,) float64 imaging times ``0, interval_h, ...`` in hours after treatment."""
    if n_timepoints < 1 or interval_h <= 0:
        raise ValueError("need n_timepoints >= 1 and interval_h > 0")
    return np.arange(n_timepoints, dtype=np.float64) * interval_h


def control_probability(dose_gy: float | np.ndarray, scenario: Scenario) -> float | np.ndarray:
    """Logistic spheroid control probability at ``dose_gy``; 0 for untreated (dose 0)."""
    dose = np.asarray(dose_gy, dtype=np.float64)
    p = 1.0 / (1.0 + np.exp(-scenario.scd_slope_per_gy * (dose - scenario.true_scd50_gy)))
    p = np.where(dose > 0, p, 0.0)
    return float(p) if p.ndim == 0 else p


def arm_label(dose_gy: float) -> str:
    """Arm name for a dose: ``"untreated"`` for 0, else e.g. ``"RT 7.5 Gy"``."""
    return "untreated" if dose_gy == 0 else f"RT {dose_gy:g} Gy"


def assign_arms(n_wells: int, n_arms: int) -> np.ndarray:
    """(n_wells,) int arm index per well: contiguous, near-equal blocks in layout order."""
    return (np.arange(n_wells) * n_arms) // n_wells


def _gompertz(t_d: np.ndarray, d_start: float, d_max: float, beta_per_d: float) -> np.ndarray:
    """Gompertz diameter curve from ``d_start`` towards ``d_max``; ``t_d`` in days."""
    return d_max * (d_start / d_max) ** np.exp(-beta_per_d * t_d)


def _untreated(
    t_d: np.ndarray, d0: float, scenario: Scenario, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Diameter (um) and debris of an untreated spheroid: Gompertz growth, few dead cells."""
    d_max = scenario.max_diameter_um * rng.uniform(0.9, 1.1)
    doubling_d = scenario.untreated_doubling_h / _HOURS_PER_DAY * rng.uniform(0.85, 1.15)
    # Initial volume growth rate 3*beta*ln(d_max/d0) equals ln 2 / doubling time.
    beta = math.log(2.0) / (doubling_d * 3.0 * math.log(d_max / d0))
    diameter = _gompertz(t_d, d0, d_max, beta)
    debris = np.full_like(t_d, rng.uniform(0.0, 0.06))
    return diameter, debris


def _treated(
    t_d: np.ndarray,
    d0: float,
    dose_gy: float,
    controlled: bool,
    scenario: Scenario,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Diameter (um), debris and detach time (days, NaN if none) of a treated spheroid."""
    t_last = float(t_d[-1])
    threshold_d = d0 * scenario.relapse_volume_factor ** (1.0 / 3.0)
    # Transient growth for a day or two after irradiation, kept below the relapse threshold.
    bump = min(rng.uniform(0.03, 0.1), 0.9 * (threshold_d / d0 - 1.0))
    tau_bump = rng.uniform(1.0, 2.0)
    if controlled:
        nadir = rng.uniform(0.35, 0.6) * max(0.7, 1.0 - 0.02 * dose_gy)
    else:
        nadir = rng.uniform(0.45, 0.7)
    tau_shrink = rng.uniform(2.0, 4.0)
    # Controlled spheroids keep shrinking slowly, to about half their nadir at most.
    tau_slow = rng.uniform(20.0, 40.0) if controlled else math.inf

    crossing_d = math.nan
    onset_d = t_last
    if not controlled:
        crossing_d = t_last * rng.uniform(0.4, 0.95)
        onset_d = crossing_d * rng.uniform(0.3, 0.55)

    detach_d = math.nan
    remnant = 0.0
    tau_remnant = rng.uniform(30.0, 60.0)
    if rng.random() < min(0.8, scenario.detach_probability_per_gy * dose_gy):
        detach_d = (onset_d if not controlled else t_last) * rng.uniform(0.2, 0.7)
        remnant = rng.uniform(*scenario.remnant_diameter_um)

    def attached(t: np.ndarray) -> np.ndarray:
        growth = 1.0 + bump * (t / tau_bump) * np.exp(1.0 - t / tau_bump)
        shrink = nadir + (1.0 - nadir) * np.exp(-t / tau_shrink)
        shrink = shrink * (0.5 + 0.5 * np.exp(-t / tau_slow))
        return d0 * growth * shrink

    def before_regrowth(t: np.ndarray) -> np.ndarray:
        d = attached(t)
        if math.isnan(detach_d):
            return d
        at_detach = float(attached(np.array([detach_d]))[0])
        fade = 0.5 + 0.5 * np.exp(-np.maximum(t - detach_d, 0.0) / tau_remnant)
        left = min(remnant, 0.8 * at_detach) * fade
        return np.where(t >= detach_d, np.minimum(d, left), d)

    diameter = before_regrowth(t_d)
    if not controlled:
        d_on = float(before_regrowth(np.array([onset_d]))[0])
        # the plateau lies above the relapse threshold (a spheroid large at treatment can
        # have a threshold above the drawn plateau; the rate below has no solution then)
        d_max = max(scenario.max_diameter_um * rng.uniform(0.9, 1.1), 1.05 * threshold_d)
        # Solve the Gompertz rate so the curve passes the threshold exactly at crossing_d.
        ratio = math.log(threshold_d / d_max) / math.log(d_on / d_max)
        beta = -math.log(ratio) / (crossing_d - onset_d)
        regrow = _gompertz(np.maximum(t_d - onset_d, 0.0), d_on, d_max, beta)
        diameter = np.where(t_d >= onset_d, regrow, diameter)

    peak = min(1.0, dose_gy / 10.0 * rng.uniform(0.6, 1.2) + 0.1)
    debris = peak * (1.0 - np.exp(-t_d / rng.uniform(1.0, 2.5)))
    if not math.isnan(detach_d):
        debris = np.where(t_d >= detach_d, np.minimum(1.0, debris + 0.3), debris)
    # Debris settles and is partly washed out with medium changes.
    debris = debris * np.exp(-t_d / rng.uniform(25.0, 50.0))
    return diameter, np.clip(debris, 0.0, 1.0), detach_d


def _first_exceeding(times_h: np.ndarray, volume: np.ndarray, threshold: float) -> float:
    above = np.flatnonzero(volume > threshold)
    return float(times_h[above[0]]) if above.size else math.nan


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def simulate_spheroid(
    well: WellId,
    dose_gy: float,
    *,
    times_h: np.ndarray,
    scenario: Scenario,
    rng: np.random.Generator,
) -> SpheroidHistory:
    """Simulate one spheroid's fate and course.

    Parameters
    ----------
    well : WellId
    dose_gy : float
        Dose in Gy; 0 means untreated.
    times_h : (T,) float
        Increasing imaging times in hours, starting at 0 (treatment); ``T >= 2``.
    scenario : Scenario
    rng : numpy.random.Generator

    Returns
    -------
    SpheroidHistory
    """
    times_h = np.asarray(times_h, dtype=np.float64)
    if times_h.ndim != 1 or times_h.size < 2 or times_h[0] != 0 or np.any(np.diff(times_h) <= 0):
        raise ValueError("times_h must be increasing, start at 0 and hold >= 2 times")
    t_d = times_h / _HOURS_PER_DAY
    d0 = rng.uniform(*scenario.diameter0_um)
    twin_ratio = rng.uniform(0.4, 0.8) if rng.random() < scenario.twin_probability else 0.0
    detach_d = math.nan
    if dose_gy == 0:
        fate = "untreated"
        diameter, debris = _untreated(t_d, d0, scenario, rng)
    else:
        controlled = bool(rng.random() < control_probability(dose_gy, scenario))
        fate = "control" if controlled else "relapse"
        diameter, debris, detach_d = _treated(t_d, d0, dose_gy, controlled, scenario, rng)
    relapse_time_h = math.nan
    if fate == "relapse":
        volume = np.pi * diameter**3 / 6.0
        relapse_time_h = _first_exceeding(
            times_h, volume, scenario.relapse_volume_factor * volume[0]
        )
    return SpheroidHistory(
        well=well,
        arm=arm_label(dose_gy),
        dose_gy=float(dose_gy),
        fate=fate,
        relapse_time_h=relapse_time_h,
        times_h=_readonly(times_h),
        diameter_um=_readonly(diameter),
        debris=_readonly(debris),
        detach_time_h=detach_d * _HOURS_PER_DAY,
        twin_ratio=float(twin_ratio),
    )


def simulate_plate(
    wells: Sequence[WellId],
    *,
    times_h: np.ndarray,
    scenario: Scenario | None = None,
    seed: int = 0,
) -> tuple[SpheroidHistory, ...]:
    """Simulate one spheroid per well, arms in contiguous blocks in the order of ``wells``.

    Each well draws from its own generator, seeded by ``(seed, row, column)``, so a well's
    history does not depend on the other wells.

    Parameters
    ----------
    wells : sequence of WellId
        Wells in layout order.
    times_h : (T,) float
        Imaging times in hours after treatment, starting at 0.
    scenario : Scenario, optional
        Defaults to ``Scenario()``.
    seed : int
        Non-negative seed.

    Returns
    -------
    tuple of SpheroidHistory
        One per well, in the order of ``wells``.
    """
    scenario = Scenario() if scenario is None else scenario
    arms = assign_arms(len(wells), len(scenario.doses_gy))
    histories = []
    for well, arm in zip(wells, arms, strict=True):
        rng = np.random.default_rng(
            np.random.SeedSequence([seed, _GROWTH_TAG, well.row_index, well.column])
        )
        dose = scenario.doses_gy[int(arm)]
        histories.append(simulate_spheroid(well, dose, times_h=times_h, scenario=scenario, rng=rng))
    return tuple(histories)
