"""Growth curves and treatment endpoints from a results store (scipy, lifelines: lazy)."""

from hts.analysis.curves import growth_curves
from hts.analysis.dose_response import LogisticFit, binomial_ci, fit_logistic, logistic
from hts.analysis.endpoints import (
    FATES,
    arm_endpoints,
    compute_endpoints,
    dose_endpoints,
    endpoints_from_curves,
    evaluation_times,
    spheroid_endpoints,
)
from hts.analysis.params import EndpointParams
from hts.analysis.queries import flagged_images
from hts.analysis.survival import KaplanMeier, kaplan_meier

__all__ = [
    "FATES",
    "EndpointParams",
    "KaplanMeier",
    "LogisticFit",
    "arm_endpoints",
    "binomial_ci",
    "compute_endpoints",
    "dose_endpoints",
    "endpoints_from_curves",
    "evaluation_times",
    "fit_logistic",
    "flagged_images",
    "growth_curves",
    "kaplan_meier",
    "logistic",
    "spheroid_endpoints",
]
