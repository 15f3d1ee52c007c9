"""The parameters of every growth endpoint, in one typed record."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from hts.measure.qc import QC_BITS

__all__ = ["EndpointParams"]


@dataclass(frozen=True)
class EndpointParams:
    """Thresholds and windows of the growth endpoints (see docs/analysis.md).

    Attributes
    ----------
    exclude_flags : tuple of str
        QC flags (names in :data:`hts.measure.qc.QC_BITS`) whose images are left out of
        every fit. They stay in the growth curves, marked. By default every flag but
        ``multiple_objects``: a second object beside the spheroid (a satellite, a debris
        clump) does not make the chosen spheroid's measurement doubtful; where the choice
        is, ``uncertain_choice`` says so. (Excluding it too dropped 39 % of the images of a
        synthetic endpoint plate with v5 and missed 13 of 19 relapses.)
    baseline_max_h : float
        The volume at treatment is that of the first usable image taken at most this many
        hours after treatment; a spheroid without one gets fate ``"unknown"``.
    relapse_factor : float
        A spheroid relapses when its volume exceeds this multiple of its reference volume.
    relapse_reference : {"treatment", "nadir"}
        Reference volume: the volume at treatment, or the smallest volume seen so far
        after treatment (the post-treatment minimum, including the baseline).
    min_consecutive : int
        Usable images in a row that must exceed the threshold; the relapse time is the first
        of them. A run that reaches the last usable image counts even if shorter.
    relapse_fit_half_width : int
        The relapse time is refined on a log-linear fit over the usable images up to this
        many before and after the first one above the threshold (0: no refinement); see
        :func:`hts.analysis.relapse.detect_relapse`.
    observation_end_h : float or None
        End of the observation window, hours after treatment; None: the last image.
    min_followup_h : float
        A spheroid not seen to relapse is called controlled only if its last usable image
        is at least this long after treatment, and in any case after the baseline window
        (``baseline_max_h``); otherwise its fate is ``"unknown"``.
    growth_delay_factor : float
        Growth delay uses the time to reach this multiple of the volume at treatment.
    growth_fit_max_h : float
        Growth rate of untreated spheroids: log-linear fit of the usable volumes up to this
        many hours after treatment (the near-exponential phase).
    untreated_dose : float
        Spheroids with this dose are the untreated control arm.
    confidence : float
        Confidence level of every interval (Kaplan-Meier, SCP, SCD50).
    """

    exclude_flags: tuple[str, ...] = tuple(k for k in QC_BITS if k != "multiple_objects")
    baseline_max_h: float = 24.0
    relapse_factor: float = 2.0
    relapse_reference: Literal["treatment", "nadir"] = "treatment"
    min_consecutive: int = 2
    relapse_fit_half_width: int = 2
    observation_end_h: float | None = None
    min_followup_h: float = 0.0
    growth_delay_factor: float = 3.0
    growth_fit_max_h: float = 96.0
    untreated_dose: float = 0.0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        unknown = set(self.exclude_flags) - set(QC_BITS)
        if unknown:
            raise ValueError(f"unknown QC flags {sorted(unknown)}; known: {list(QC_BITS)}")
        if self.relapse_factor <= 1.0 or self.growth_delay_factor <= 1.0:
            raise ValueError("relapse_factor and growth_delay_factor must be > 1")
        if self.relapse_reference not in ("treatment", "nadir"):
            raise ValueError(
                f"relapse_reference must be 'treatment' or 'nadir', got {self.relapse_reference!r}"
            )
        if self.min_consecutive < 1 or self.relapse_fit_half_width < 0:
            raise ValueError("min_consecutive must be >= 1 and relapse_fit_half_width >= 0")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError("confidence must be in (0, 1)")
        if self.baseline_max_h < 0 or self.growth_fit_max_h <= 0:
            raise ValueError("baseline_max_h must be >= 0 and growth_fit_max_h > 0")

    @property
    def exclude_bits(self) -> int:
        """The excluded flags as a QC bit mask."""
        return sum(1 << QC_BITS[name] for name in self.exclude_flags)

    def to_json(self) -> str:
        """The parameters as JSON text (stored in the endpoints' attributes)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EndpointParams:
        """The parameters `to_json` wrote."""
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(text).items()
        }
        return cls(**fields)
