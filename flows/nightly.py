"""The nightly screen: ingest what arrived, segment what is new, update figures, report.

Everything is incremental in ``hts`` itself: ingest adds only files the plate does not hold
yet, and the run segments only image slots without a current result. So a nightly run
after a day of imaging processes exactly that day's images, and a run that failed half-way
is finished by the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows import tasks
from flows.cluster import ClusterConfig, open_cluster
from flows.figures import EndpointTable, escape_markdown, markdown_table
from flows.steps import default_report_path, default_results_path
from hts.distributed import ClusterSpec, RunSummary
from hts.io import IngestOptions
from hts.measure import QC_BITS
from hts.measure.qc import flagged_warning
from hts.results import ResultsFigures
from hts.segment import DEFAULT_SEGMENTER, SegmenterSpec

__all__ = ["NightlySummary", "nightly_markdown", "nightly_screen"]


@dataclass(frozen=True)
class NightlySummary:
    """What one nightly run did, and the plate's key figures after it."""

    n_files_seen: int
    n_new_images: int
    n_skipped_files: int
    #: the segmentation run: plate, model, slot counts by status and by why, QC flags, errors
    run: RunSummary
    figures: ResultsFigures
    endpoints: tuple[EndpointTable, ...] | None
    report_html: str | None
    #: Steps after segmentation (endpoints, HTML report) that failed, with the reason.
    report_errors: tuple[str, ...] = ()

    @property
    def n_processed(self) -> int:
        """Image slots segmented (or found empty) by this run."""
        return self.run.n_processed

    @property
    def n_failed(self) -> int:
        return self.run.n_failed

    def qc_warnings(self) -> tuple[str, ...]:
        """Warnings when most images of this run, or of the whole plate, are in doubt."""
        fig = self.figures
        found = (self.run.warning(), flagged_warning(fig.n_doubtful, fig.n_ok))
        return tuple(dict.fromkeys(w for w in found if w is not None))


def nightly_markdown(summary: NightlySummary) -> str:
    """The nightly report as Markdown (the Prefect artifact)."""
    fig, run = summary.figures, summary.run
    day = "n/a" if fig.last_day is None else f"{fig.last_day:g}"
    lines = [
        f"# Nightly screen: plate {escape_markdown(run.plate)}",
        "",
        *(f"> **Warning:** {escape_markdown(w)}\n" for w in summary.qc_warnings()),
        f"Model {escape_markdown(run.model_id)}; {fig.n_positions} spheroids x {fig.n_timepoints} "
        f"time points, latest day {day}.",
        "",
        markdown_table(
            ["this run", "images"],
            [
                ("files seen", summary.n_files_seen),
                ("new images ingested", summary.n_new_images),
                ("files skipped (see the ingest report)", summary.n_skipped_files),
                ("images processed", summary.n_processed),
                *((f"  {k}", n) for k, n in sorted(run.counts.items())),
                *((f"  to do because: {why}", n) for why, n in run.reasons.items()),
                ("images failed", summary.n_failed),
                ("measured images flagged by QC", run.n_flagged),
                *((f"  {k}", n) for k, n in run.qc_flags.items() if n),
            ],
        ),
        "",
        "## Whole plate",
        "",
        markdown_table(["status", "images"], sorted(fig.status.items())),
        "",
        f"QC: {fig.n_flagged} of {fig.n_ok} measured images carry a flag.",
        "",
        markdown_table(
            ["QC flag", "all time points", "latest time point"],
            [(name, fig.qc_flags[name], fig.qc_flags_last[name]) for name in QC_BITS],
        ),
        "",
        markdown_table(
            ["arm", "spheroids", "median d first (um)", "median d latest (um)"],
            [
                (a.arm, a.n_spheroids, a.median_diameter_first_um, a.median_diameter_last_um)
                for a in fig.arms
            ],
        ),
    ]
    if summary.endpoints is not None:
        lines += ["", "## Endpoints"]
        for table in summary.endpoints:
            lines += [
                "",
                f"**{escape_markdown(table.title)}**",
                "",
                markdown_table(table.header, table.rows),
            ]
    if run.errors or summary.report_errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {escape_markdown(e)}" for e in (*summary.report_errors, *run.errors[:20])]
    if summary.report_html:
        lines += ["", f"HTML report: {escape_markdown(summary.report_html)}"]
    return "\n".join(lines) + "\n"


def _failure(step: str, state: Any) -> str:
    error = state.result(raise_on_failure=False)
    return f"{step} failed: {type(error).__name__}: {error}"


def _run_name() -> str:
    return f"nightly-{Path(str(flow_run.parameters['plate'])).name.removesuffix('.zarr')}"


@flow(name="nightly-screen", flow_run_name=_run_name)
def nightly_screen(
    source: str,
    plate: str,
    results: str | None = None,
    plate_map: str | None = None,
    pattern: str = "auto",
    manifest: str | None = None,
    pixel_size_um: float | None = None,
    treated_at: datetime | None = None,
    model: str = DEFAULT_SEGMENTER,
    engine: str | None = None,
    cluster: ClusterConfig | None = None,
    batch_size: int = 8,
    endpoint_params: dict[str, Any] | None = None,
    report_html: str | None = None,
    retries: int = tasks.RETRIES,
    retry_delay_s: float = tasks.RETRY_DELAY_S,
) -> NightlySummary:
    """Ingest the images that arrived in ``source``, segment them, update the figures.

    Parameters
    ----------
    source
        Folder the microscope writes to (searched recursively).
    plate
        The plate (``PLATE.zarr``), created on the first run.
    results
        Results store; default ``PLATE.results.zarr`` beside the plate.
    plate_map, pattern, manifest, pixel_size_um, treated_at
        As for ``hts ingest``: ``pattern`` is a naming preset or a regex with named groups;
        ``manifest`` a CSV assigning files to wells and time points instead
        (docs/data-model.md).
    model, engine
        Segmenter (``unet``, ``classical``, a weight file) and inference engine.
    cluster
        Where to segment (default: local worker processes, started only if there is work).
    endpoint_params
        Fields of ``hts.analysis.EndpointParams`` (defaults when omitted).
    report_html
        HTML report path; default ``PLATE.report.html`` beside the results.
    retries, retry_delay_s
        Retries of the ingest and segmentation tasks, and the wait between them.
    """
    logger = get_run_logger()
    segmenter = SegmenterSpec.parse(model, engine=engine)  # once: an unknown model stops here
    config = cluster or ClusterConfig()
    results = results or str(default_results_path(plate))
    options = IngestOptions(
        pattern=pattern,
        manifest=Path(manifest) if manifest else None,
        plate_map=Path(plate_map) if plate_map else None,
        pixel_size_um=pixel_size_um,
        treated_at=treated_at,
    )
    ingest_cluster = ClusterSpec(config.scheduler) if config.scheduler else None
    ingest_task = tasks.ingest_new_images.with_options(
        retries=retries, retry_delay_seconds=retry_delay_s
    )
    segment_task = tasks.segment_plate.with_options(
        retries=retries, retry_delay_seconds=retry_delay_s
    )
    report = ingest_task(source, plate, options=options, cluster=ingest_cluster)
    logger.info("%d new images in %s (%d files seen)", report.n_new, source, report.n_files)
    with open_cluster(config, share_local=False) as spec:
        outcome = segment_task(
            plate, results, segmenter=segmenter, cluster=spec, batch_size=batch_size
        )
    logger.info("segmented %d images of plate %s", outcome.n_processed, outcome.plate)
    figures = tasks.summarise_results(results)
    # endpoints and the HTML report come after the measurements are safe: their failure is
    # reported (artifact, then a failed flow run) but does not stop the figures' publication.
    # The endpoints are computed once; the report shows them.
    report_errors: list[str] = []
    endpoints_state = tasks.compute_endpoints(results, params=endpoint_params, return_state=True)
    growth, html = None, None
    if endpoints_state.is_completed():
        growth = endpoints_state.result()
        html_path = report_html or str(default_report_path(results))
        html_state = tasks.write_html_report(
            results, html_path, endpoints=growth, plate=plate, return_state=True
        )
        if html_state.is_completed():
            html = html_state.result()
        else:
            report_errors.append(_failure("HTML report", html_state))
    else:
        report_errors += [
            _failure("endpoints", endpoints_state),
            "HTML report not written: it shows the endpoints",
        ]
    summary = NightlySummary(
        n_files_seen=report.n_files,
        n_new_images=report.n_new,
        n_skipped_files=report.n_skipped,
        run=outcome,
        figures=figures,
        endpoints=None if growth is None else growth.tables(),
        report_html=html,
        report_errors=tuple(report_errors),
    )
    tasks.publish_markdown(
        tasks.artifact_key("nightly", outcome.plate),
        nightly_markdown(summary),
        description=f"Nightly screen of plate {outcome.plate}: figures and QC counts",
    )
    for warning in summary.qc_warnings():
        logger.warning("plate %s: %s", outcome.plate, warning)
    if summary.n_failed:
        logger.warning(
            "%d images failed; they are retried by the next run: %s",
            summary.n_failed,
            "; ".join(outcome.errors[:5]),
        )
    if report_errors:
        raise RuntimeError("; ".join(report_errors) + " (the measurements are stored)")
    return summary
