"""The work of the flows as plain functions on ``hts``'s public API (no Prefect here).

The flows wrap each of these in a Prefect task; calling them in order without Prefect does
the same work (that is how the flows' overhead is measured, see docs/deploy.md).
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.figures import EndpointTable, endpoint_tables
from hts.distributed import ClusterSpec, RunSummary, run_plate
from hts.distributed.ingest import ingest
from hts.io import IngestOptions, IngestReport, PlateStore
from hts.results import ResultsFigures, default_results_path, open_results, results_figures
from hts.segment import SegmenterSpec

__all__ = [
    "GrowthEndpoints",
    "compute_endpoints",
    "default_report_path",
    "default_results_path",
    "find_plates",
    "ingest_new_images",
    "segment_plate",
    "summarise_results",
    "write_html_report",
]

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GrowthEndpoints:
    """Growth curves and endpoints of a results store, computed once for the endpoint tables
    and the HTML report."""

    #: ``hts.analysis.growth_curves`` output
    curves: xr.Dataset
    #: ``hts.analysis.compute_endpoints`` output
    endpoints: xr.Dataset

    def tables(self) -> tuple[EndpointTable, ...]:
        """The endpoints as key-figure tables (`flows.figures.endpoint_tables`)."""
        return endpoint_tables(self.endpoints)


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
    segmenter: SegmenterSpec,
    cluster: ClusterSpec | None = None,
    redo: bool = False,
    batch_size: int = 8,
) -> RunSummary:
    """Segment every image of ``plate`` without a current result of ``segmenter`` (``hts
    run``; the flows parse their ``model`` and ``engine`` parameters into it).

    Resumable: an interrupted run leaves what it finished; the next run does the rest.
    """
    return run_plate(
        plate, results, segmenter=segmenter, cluster=cluster, redo=redo,
        batch_size=batch_size,
    )  # fmt: skip


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


def compute_endpoints(
    results: Path | str, *, params: dict[str, Any] | None = None
) -> GrowthEndpoints | None:
    """Growth curves and endpoints (relapse, SCP, growth delay) of a results store.

    ``params`` are fields of ``hts.analysis.EndpointParams`` (defaults when None). None
    where ``hts[report]`` is not installed.
    """
    analysis = _optional("hts.analysis")
    if analysis is None:
        return None
    endpoint_params = _endpoint_params(analysis, params)
    try:
        curves = analysis.growth_curves(open_results(results), params=endpoint_params)
        endpoints = analysis.endpoints_from_curves(curves, params=endpoint_params)
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        log.warning("no endpoints: %s (install hts[report])", exc)
        return None
    return GrowthEndpoints(curves, endpoints)


def write_html_report(
    results: Path | str,
    out_html: Path | str,
    *,
    endpoints: GrowthEndpoints | None,
    plate: Path | str | None = None,
) -> Path | None:
    """The HTML report of a results store (``hts.report``) showing ``endpoints``
    (:func:`compute_endpoints`, with their parameters); None without ``hts[report]``."""
    report = _optional("hts.report")
    if report is None or endpoints is None:
        return None
    try:
        path = report.write_report(
            results, out_html, plate_path=plate, curves=endpoints.curves,
            endpoints=endpoints.endpoints,
        )  # fmt: skip
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        log.warning("no HTML report: %s (install hts[report])", exc)
        return None
    return Path(path)
