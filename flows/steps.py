"""The work of the flows as plain functions on ``hts``'s public API (no Prefect here).

The flows wrap each of these in a Prefect task; calling them in order without Prefect does
the same work (that is how the flows' overhead is measured, see docs/deploy.md).
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.figures import EndpointTable, ResultsFigures, endpoint_tables, results_figures
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.distributed.run import run_plate
from hts.io import IngestOptions, IngestReport, PlateStore
from hts.results import default_results_path, open_results

__all__ = [
    "SegmentOutcome",
    "compute_endpoint_tables",
    "default_report_path",
    "default_results_path",
    "find_plates",
    "ingest_new_images",
    "segment_plate",
    "summarise_results",
    "write_html_report",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentOutcome:
    """What one segmentation run of a plate did: slot counts by final status."""

    plate: str
    plate_path: str
    results_path: str
    model_id: str
    n_blocks: int
    counts: dict[str, int]
    errors: tuple[str, ...]
    seconds: float
    #: slots planned, by why they were to do (new, another model, ...; see hts' plan_slots)
    reasons: dict[str, int] = field(default_factory=dict)
    #: images this run measured that carry each QC flag, by flag name
    qc_flags: dict[str, int] = field(default_factory=dict)
    #: images this run measured that carry any QC flag
    n_flagged: int = 0
    #: images this run measured whose flags put the measurement in doubt
    n_doubtful: int = 0
    #: a warning when most images this run measured were flagged
    qc_warning: str | None = None

    @property
    def n_processed(self) -> int:
        """Image slots this run wrote (ok, failed or found without an image)."""
        return sum(self.counts.values())

    @property
    def n_failed(self) -> int:
        return self.counts.get("failed", 0)


def default_report_path(results: Path | str) -> Path:
    """``PLATE.report.html`` beside ``PLATE.results.zarr``."""
    results = Path(results)
    return results.with_name(results.name.removesuffix(".results.zarr") + ".report.html")


def find_plates(archive: Path | str) -> list[Path]:
    """Every OME-Zarr plate under ``archive``, sorted (results stores and other Zarr left out)."""
    archive = Path(archive)
    if not archive.is_dir():
        raise NotADirectoryError(f"{archive}: archive folder does not exist")
    plates = []
    for folder, subfolders, _ in os.walk(archive):
        stores = sorted(d for d in subfolders if d.endswith(".zarr"))
        subfolders[:] = [d for d in subfolders if not d.endswith(".zarr")]  # never walk a store
        for name in stores:
            if name.endswith(".results.zarr"):
                continue
            try:
                PlateStore(Path(folder) / name)
            except (FileNotFoundError, ValueError):
                continue
            plates.append(Path(folder) / name)
    return sorted(plates)


def ingest_new_images(
    source: Path | str,
    plate: Path | str,
    *,
    options: IngestOptions | None = None,
    cluster: ClusterSpec | None = None,
) -> IngestReport:
    """Ingest the files under ``source`` that the plate does not hold yet (``hts ingest``)."""
    report = ingest(source, plate, options=options, cluster=cluster)
    log.info("%d new images arrived since the last ingest of %s", report.n_new, plate)
    return report


def segment_plate(
    plate: Path | str,
    results: Path | str,
    *,
    model: str,
    engine: str | None = None,
    cluster: ClusterSpec | None = None,
    redo: bool = False,
    batch_size: int = 8,
) -> SegmentOutcome:
    """Segment every image of ``plate`` without a current result of ``model`` (``hts run``).

    Resumable: an interrupted run leaves what it finished; the next run does the rest.
    """
    began = time.perf_counter()
    summary = run_plate(
        plate, results, segmenter=model, engine=engine, cluster=cluster, redo=redo,
        batch_size=batch_size,
    )  # fmt: skip
    return SegmentOutcome(
        plate=summary.plate,
        plate_path=str(plate),
        results_path=str(results),
        model_id=summary.model_id,
        n_blocks=summary.n_blocks,
        counts=dict(summary.counts),
        errors=tuple(summary.errors),
        seconds=time.perf_counter() - began,
        reasons=dict(summary.reasons),
        qc_flags=dict(summary.qc_flags),
        n_flagged=summary.n_flagged,
        n_doubtful=summary.n_doubtful,
        qc_warning=summary.warning(),
    )


def summarise_results(results: Path | str) -> ResultsFigures:
    """Key figures of a results store."""
    return results_figures(open_results(results))


#: Third-party packages of the ``report`` extra: without them there are no endpoints or report.
_REPORT_EXTRA = ("scipy", "lifelines", "matplotlib", "pyarrow")


def _optional(module: str) -> Any | None:
    """``hts.analysis`` and ``hts.report``, or None where they (or their extra) are missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        log.warning("%s is not available (%s): install hts[report]", module, exc)
        return None


def _missing_extra(exc: ModuleNotFoundError) -> bool:
    return (exc.name or "").split(".")[0] in _REPORT_EXTRA


def _endpoint_params(analysis: Any, params: dict[str, Any] | None) -> Any | None:
    if not params:
        return None
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return analysis.EndpointParams(**fields)


def compute_endpoint_tables(
    results: Path | str, *, params: dict[str, Any] | None = None
) -> tuple[EndpointTable, ...] | None:
    """Growth endpoints (relapse, SCP, growth delay) as key-figure tables.

    ``params`` are fields of ``hts.analysis.EndpointParams`` (defaults when None). None
    where ``hts[report]`` is not installed.
    """
    analysis = _optional("hts.analysis")
    if analysis is None:
        return None
    try:
        endpoints = analysis.compute_endpoints(
            open_results(results), params=_endpoint_params(analysis, params)
        )
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        log.warning("no endpoints: %s (install hts[report])", exc)
        return None
    return endpoint_tables(endpoints)


def write_html_report(
    results: Path | str,
    out_html: Path | str,
    *,
    params: dict[str, Any] | None = None,
    plate: Path | str | None = None,
) -> Path | None:
    """The HTML report of a results store (``hts.report``); None without ``hts[report]``."""
    report = _optional("hts.report")
    analysis = _optional("hts.analysis")
    if report is None or analysis is None:
        return None
    try:
        path = report.write_report(
            results, out_html, params=_endpoint_params(analysis, params), plate_path=plate
        )
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        log.warning("no HTML report: %s (install hts[report])", exc)
        return None
    return Path(path)
