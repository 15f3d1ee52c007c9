"""Spheroid control probability per dose and the SCD50 from a logistic dose-response fit.

SCP(D) = 1 / (1 + exp(-k (D - SCD50))) is fitted by maximum likelihood to the individual
spheroids' outcomes (controlled 1, relapsed 0), so doses with few spheroids weigh less.
The SCD50's confidence interval is the profile-likelihood interval (likelihood-ratio test
with one degree of freedom), which stays honest when the dose-response is steep; the Wald
standard error (delta method) is reported beside it. scipy is imported lazily.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LogisticFit", "binomial_ci", "fit_logistic", "logistic"]

log = logging.getLogger(__name__)


def logistic(dose: np.ndarray | float, scd50: float, slope: float) -> np.ndarray:
    """Control probability at ``dose`` of a logistic dose-response (slope per dose unit)."""
    z = slope * (np.asarray(dose, dtype=np.float64) - scd50)
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def binomial_ci(
    successes: np.ndarray, trials: np.ndarray, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson (exact) confidence interval of a binomial proportion.

    Parameters
    ----------
    successes, trials : (N,) int
        Trials of 0 give NaN bounds.
    confidence : float

    Returns
    -------
    lower, upper : (N,) float
    """
    from scipy.stats import beta

    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        upper = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


@dataclass(frozen=True)
class LogisticFit:
    """A logistic dose-response fit.

    Attributes
    ----------
    scd50 : float
        Dose of 50 % control, in the results' dose unit.
    slope : float
        Logistic slope per dose unit.
    ci_lower, ci_upper : float
        Profile-likelihood confidence interval of ``scd50``; NaN where the likelihood does
        not fall far enough within the search range (the data do not bound it).
    se : float
        Wald standard error of ``scd50`` (delta method).
    n : int
        Spheroids fitted.
    converged : bool
        False when the data cannot determine the fit (e.g. one outcome only, or a single
        dose); the estimates are then NaN.
    """

    scd50: float
    slope: float
    ci_lower: float
    ci_upper: float
    se: float
    n: int
    converged: bool


def _log_likelihood(dose: np.ndarray, y: np.ndarray, scd50: float, slope: float) -> float:
    z = slope * (dose - scd50)
    # log(expit(z)) = -log1p(exp(-z)), computed stably with logaddexp
    return float(-np.sum(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)))


def _nan_fit(n: int) -> LogisticFit:
    return LogisticFit(math.nan, math.nan, math.nan, math.nan, math.nan, n, False)


def fit_logistic(
    dose: np.ndarray, controlled: np.ndarray, *, confidence: float = 0.95
) -> LogisticFit:
    """Maximum-likelihood logistic fit of control against dose, with the SCD50's CI.

    Parameters
    ----------
    dose : (N,) float
        Dose of each spheroid.
    controlled : (N,) bool
        Outcome of each spheroid.
    confidence : float

    Returns
    -------
    LogisticFit
    """
    from scipy.optimize import brentq, minimize, minimize_scalar
    from scipy.stats import chi2

    d = np.asarray(dose, dtype=np.float64)
    y = np.asarray(controlled, dtype=np.float64)
    n = int(d.size)
    if n == 0 or np.unique(d).size < 2 or y.min() == y.max():
        return _nan_fit(n)
    span = float(np.ptp(d))

    # Work in (a, b) with linear predictor a + b d: the log-likelihood is concave there.
    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] + params[1] * d
        value = np.sum(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z))
        residual = logistic(z, 0.0, 1.0) - y
        return float(value), np.array([residual.sum(), (residual * d).sum()])

    res = minimize(
        nll, x0=np.array([-4.0 * float(np.mean(d)) / span, 4.0 / span]), jac=True, method="BFGS"
    )
    a, b = (float(v) for v in res.x)
    if not np.isfinite([a, b]).all() or b == 0:
        return _nan_fit(n)
    scd50, slope = -a / b, b
    if abs(slope) * span > 200:
        log.warning("dose-response is (nearly) separated: SCD50 is poorly determined")
    ll_max = _log_likelihood(d, y, scd50, slope)

    # Wald SE by the delta method from the Fisher information of (a, b).
    p = logistic(d, scd50, slope)
    w = p * (1 - p)
    info = np.array([[w.sum(), (w * d).sum()], [(w * d).sum(), (w * d * d).sum()]])
    try:
        cov = np.linalg.inv(info)
        grad = np.array([-1.0 / b, a / b**2])
        se = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    except np.linalg.LinAlgError:
        se = math.nan

    k_max = 200.0 / span

    def profile(c: float) -> float:
        best = minimize_scalar(
            lambda k: -_log_likelihood(d, y, c, k), bounds=(-k_max, k_max), method="bounded"
        )
        return float(-best.fun)

    cutoff = float(chi2.ppf(confidence, df=1))

    def excess(c: float) -> float:
        return 2.0 * (ll_max - profile(c)) - cutoff

    # The search walks out from the SCD50, where the excess must be negative. It is not
    # when the slope-bounded profile cannot reach the maximum there (a fit with nearly no
    # slope, e.g. control, relapse, control at rising doses): the interval is undetermined.
    at_scd50 = excess(scd50)

    def bound(direction: float) -> float:
        if not at_scd50 < 0:
            return math.nan
        step = span / 20.0
        inner = scd50
        for _ in range(200):  # up to 10 dose ranges away
            outer = inner + direction * step
            if excess(outer) > 0:
                lo, hi = sorted((inner, outer))
                return float(brentq(excess, lo, hi))
            inner = outer
        return math.nan

    return LogisticFit(
        scd50=scd50,
        slope=slope,
        ci_lower=bound(-1.0),
        ci_upper=bound(+1.0),
        se=se,
        n=n,
        converged=bool(res.success) or abs(res.jac).max() < 1e-3,
    )
