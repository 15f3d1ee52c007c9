"""Prefect tasks around :mod:`flows.steps`: one task per plate-sized piece of work.

Tasks are never per image: ``hts`` batches images into Dask tasks itself, and a Prefect
task run costs API calls. Prefect's result caching is off (``NO_CACHE``): what is done is
recorded in the plate and the results store, which is how runs resume.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from flows import steps
from hts.distributed import ClusterSpec, RunSummary
from hts.io import IngestOptions, IngestReport
from hts.results import ResultsFigures
from hts.segment import SegmenterSpec

__all__ = [
    "artifact_key",
    "compute_endpoints",
    "ingest_new_images",
    "publish_markdown",
    "segment_plate",
    "summarise_results",
    "write_html_report",
]

#: Default retries of tasks that touch the cluster or shared storage, and the wait between.
RETRIES = 2
RETRY_DELAY_S = 60.0


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) from free text."""
    text = "-".join(parts).lower()
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text)).strip("-")


#: Errors that another try cannot fix: bad input, missing folders. Others (a lost worker, a
#: store locked by a run that is finishing, a storage hiccup) are retried.
_PERMANENT = (ValueError, TypeError, KeyError, FileNotFoundError, NotADirectoryError)


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        error = state.result(raise_on_failure=False)
    return not isinstance(error, _PERMANENT)


def _plate_run_name() -> str:
    return f"{task_run.task_name}-{Path(str(task_run.parameters['plate'])).name}"


@task(
    name="ingest-new-images",
    task_run_name=_plate_run_name,
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAY_S,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
def ingest_new_images(
    source: str, plate: str, *, options: IngestOptions, cluster: ClusterSpec | None
) -> IngestReport:
    """Ingest the images that arrived in ``source`` since the last run."""
    return steps.ingest_new_images(source, plate, options=options, cluster=cluster)


@task(
    name="segment-plate",
    task_run_name=_plate_run_name,
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAY_S,
    retry_condition_fn=_worth_retrying,
    cache_policy=NO_CACHE,
)
def segment_plate(
    plate: str,
    results: str,
    *,
    segmenter: SegmenterSpec,
    cluster: ClusterSpec | None,
    redo: bool = False,
    batch_size: int = 8,
) -> RunSummary:
    """Segment what the plate's results store lacks (one Prefect task for the whole plate)."""
    return steps.segment_plate(
        plate, results, segmenter=segmenter, cluster=cluster, redo=redo,
        batch_size=batch_size,
    )  # fmt: skip


@task(name="summarise-results", cache_policy=NO_CACHE)
def summarise_results(results: str) -> ResultsFigures:
    return steps.summarise_results(results)


@task(name="compute-endpoints", cache_policy=NO_CACHE)
def compute_endpoints(
    results: str, *, params: dict[str, Any] | None = None
) -> steps.GrowthEndpoints | None:
    """Growth curves and endpoints, once: for the endpoint tables and the HTML report."""
    return steps.compute_endpoints(results, params=params)


@task(name="write-html-report", cache_policy=NO_CACHE)
def write_html_report(
    results: str,
    out_html: str,
    *,
    endpoints: steps.GrowthEndpoints | None,
    plate: str | None = None,
) -> str | None:
    """The HTML report of the endpoints computed before (not computed again)."""
    path = steps.write_html_report(results, out_html, endpoints=endpoints, plate=plate)
    if path is None:
        return None
    create_link_artifact(
        key=artifact_key("report", path.stem), link=path.resolve().as_uri(), link_text=path.name
    )
    return str(path)


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str, *, description: str) -> str:
    """Publish a Markdown artifact under ``key`` (a new version each run); returns the key."""
    create_markdown_artifact(markdown=markdown, key=key, description=description)
    return key
