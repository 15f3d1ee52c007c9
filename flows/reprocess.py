"""Reprocess an archive of plates with a chosen model version, on a given Dask cluster.

One Prefect task per plate. Resumable without Prefect's help: the results store records
which model made each result, so a run redoes only slots not yet made by ``model``; a
re-run after an interruption (or a plate that failed) picks up where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.futures import wait

from flows import tasks
from flows.cluster import ClusterConfig, open_cluster
from flows.figures import escape_markdown, markdown_table
from flows.steps import default_results_path, find_plates
from hts.distributed import RunSummary
from hts.measure.qc import format_flag_counts
from hts.segment import DEFAULT_SEGMENTER, SegmenterSpec

__all__ = ["PlateFailure", "ReprocessSummary", "reprocess_archive", "reprocess_markdown"]


@dataclass(frozen=True)
class PlateFailure:
    """A plate whose task failed after its retries."""

    plate_path: str
    error: str


@dataclass(frozen=True)
class ReprocessSummary:
    """Per plate: what its run did, or why it failed."""

    model: str
    done: tuple[RunSummary, ...]
    failed: tuple[PlateFailure, ...]

    @property
    def n_processed(self) -> int:
        return sum(o.n_processed for o in self.done)


def _why(reasons: dict[str, int]) -> str:
    return ", ".join(f"{n} {why}" for why, n in reasons.items()) or "nothing to do"


def reprocess_markdown(summary: ReprocessSummary) -> str:
    rows = [
        (Path(o.plate_path).name, o.model_id, o.counts.get("ok", 0), o.n_flagged,
         format_flag_counts(o.qc_flags), o.n_failed, o.counts.get("no_image", 0), _why(o.reasons),
         f"{o.seconds:.1f}", "done")
        for o in summary.done
    ] + [
        (Path(f.plate_path).name, summary.model, "", "", "", "", "", "", "", f"FAILED: {f.error}")
        for f in summary.failed
    ]  # fmt: skip
    header = ["plate", "model", "ok", "QC flagged", "QC flags", "failed images", "no image",
              "why", "seconds", "state"]  # fmt: skip
    warnings = "".join(
        f"> **Warning:** plate {escape_markdown(Path(o.plate_path).name)}: "
        f"{escape_markdown(o.warning())}\n\n"
        for o in summary.done
        if o.warning()
    )
    return (
        f"# Reprocessing with {escape_markdown(summary.model)}\n\n{warnings}"
        f"{len(summary.done)} plates done, {len(summary.failed)} failed; "
        f"{summary.n_processed} images processed.\n\n{markdown_table(header, rows)}\n"
    )


_WEIGHTS = (".pt", ".onnx")


def _plates(plates: list[str] | None, archive: str | None) -> list[str]:
    found = [str(p) for p in find_plates(archive)] if archive else []
    chosen = list(dict.fromkeys([*(plates or []), *found]))  # keep order, drop repeats
    if not chosen:
        raise ValueError("no plates to reprocess: give plates, or an archive folder holding some")
    return chosen


@flow(name="reprocess-archive")
def reprocess_archive(
    plates: list[str] | None = None,
    archive: str | None = None,
    model: str = DEFAULT_SEGMENTER,
    engine: str | None = None,
    cluster: ClusterConfig | None = None,
    force: bool = False,
    plates_in_parallel: int = 2,
    batch_size: int = 8,
    retries: int = tasks.RETRIES,
    retry_delay_s: float = tasks.RETRY_DELAY_S,
) -> ReprocessSummary:
    """Segment every image of the given plates with ``model``, into each plate's results store.

    Parameters
    ----------
    plates
        Plate paths (``PLATE.zarr``); results go to ``PLATE.results.zarr`` beside each.
    archive
        A folder searched for plates (added to ``plates``).
    model, engine
        Segmenter (``unet``, ``classical``, a weight file) and inference engine.
    cluster
        Dask cluster: a scheduler address, or a local or SLURM cluster started for the run.
    force
        Redo images already made by ``model`` too (then a re-run starts over).
    plates_in_parallel
        Plates whose tasks share the cluster at once.
    retries, retry_delay_s
        Retries of each plate's task, and the wait between them.
    """
    logger = get_run_logger()
    segmenter = SegmenterSpec.parse(model, engine=engine)  # once: an unknown model stops here
    paths = _plates(plates, archive)
    config = cluster or ClusterConfig()
    logger.info("reprocessing %d plates with %s on %s", len(paths), model, config.describe())
    segment = tasks.segment_plate.with_options(retries=retries, retry_delay_seconds=retry_delay_s)
    done: list[RunSummary] = []
    failed: list[PlateFailure] = []
    with open_cluster(config, share_local=True) as spec:
        for start in range(0, len(paths), max(1, plates_in_parallel)):
            wave = paths[start : start + max(1, plates_in_parallel)]
            futures = [
                segment.submit(
                    path,
                    str(default_results_path(path)),
                    segmenter=segmenter,
                    cluster=spec,
                    redo=force,
                    batch_size=batch_size,
                )
                for path in wave
            ]
            wait(futures)
            for path, future in zip(wave, futures, strict=True):
                state = future.state
                if state.is_completed():
                    done.append(future.result())
                else:
                    error = state.result(raise_on_failure=False)
                    failed.append(PlateFailure(path, f"{type(error).__name__}: {error}"[:300]))
    summary = ReprocessSummary(model=model, done=tuple(done), failed=tuple(failed))
    for outcome in done:
        warning = outcome.warning()
        if warning:
            logger.warning("plate %s: %s", outcome.plate, warning)
    tasks.publish_markdown(
        tasks.artifact_key(
            "reprocess", Path(model).stem if Path(model).suffix in _WEIGHTS else model
        ),
        reprocess_markdown(summary),
        description=f"Reprocessing of {len(paths)} plates with {model}",
    )
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(paths)} plates failed ("
            + "; ".join(f"{Path(f.plate_path).name}: {f.error}" for f in failed[:5])
            + "); run again to resume them"
        )
    return summary
