"""Segment a plate into its results store on Dask workers; resumable block by block.

The coordinator plans blocks (one results chunk: ``wells_per_chunk`` positions at one time
point) that hold anything to do: slots never processed, failed, made by another model or
post-processing version, or that gained an image since. Each worker task reads its images,
segments, measures and writes its whole chunk, so results land as tasks finish and a re-run
redoes only what is missing. Blocks are made as tasks are submitted and carry only their
chunk and a bit per position to do (the worker reads whether each image is there, its time
and its well from the plate and the results store), so the coordinator's memory does not
grow with the number of slots.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hts.distributed.block import Block, process_block
from hts.distributed.cluster import ClusterSpec, dask_client, map_bounded
from hts.distributed.plugin import SegmenterPlugin, describe_segmenter
from hts.io.lock import StoreLock
from hts.io.omezarr import PlateStore
from hts.measure.qc import DOUBTFUL_BITS, count_flags, flagged_warning, format_flag_counts
from hts.results.schema import Status
from hts.results.store import ResultsStore
from hts.segment import PROCESSING_VERSION, SegmenterSpec, as_spec

__all__ = [
    "Block",
    "RunSummary",
    "count_blocks",
    "image_slots",
    "plan_blocks",
    "plan_slots",
    "process_block",
    "run_plate",
]

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """Counts of one run, by final status of the slots it touched."""

    plate: str
    model_id: str
    n_blocks: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    #: slots planned, by why they were to do (see `plan_slots`)
    reasons: Counter[str] = field(default_factory=Counter)
    #: images this run measured (``ok``) that carry each QC flag, by flag name
    qc_flags: Counter[str] = field(default_factory=Counter)
    #: images this run measured that carry any QC flag
    n_flagged: int = 0
    #: images this run measured whose flags put the measurement in doubt (`DOUBTFUL_FLAGS`)
    n_doubtful: int = 0
    #: the plate and results store as the run was given them, and its wall time
    plate_path: str = ""
    results_path: str = ""
    seconds: float = 0.0

    @property
    def n_processed(self) -> int:
        """Image slots this run wrote (ok, failed or found without an image)."""
        return sum(self.counts.values())

    @property
    def n_failed(self) -> int:
        return self.counts.get("failed", 0)

    def why(self) -> str:
        return ", ".join(f"{n} {k}" for k, n in self.reasons.items()) or "nothing"

    def line(self) -> str:
        if not self.counts:
            return f"plate {self.plate}, model {self.model_id}: nothing to do"
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        return f"plate {self.plate}, model {self.model_id}: {parts} (to do: {self.why()})"

    def qc_line(self) -> str:
        """QC flags of the images this run measured, e.g. ``QC: 3 of 9 measured images
        flagged (touches_border 3)``."""
        n_ok = self.counts.get("ok", 0)
        return (
            f"QC: {self.n_flagged} of {n_ok} measured images flagged "
            f"({format_flag_counts(self.qc_flags)})"
        )

    def warning(self) -> str | None:
        """A warning when most images this run measured are in doubt, else None."""
        return flagged_warning(self.n_doubtful, self.counts.get("ok", 0))


def _count_qc(store: ResultsStore, done: np.ndarray, summary: RunSummary) -> None:
    """QC flags of the slots of ``done`` that hold a measurement now, into ``summary``."""
    measured = done & (store.read("status") == Status.OK)
    bits = store.read("qc_flags")[measured]
    summary.qc_flags.update(count_flags(bits))
    summary.n_flagged = int((bits != 0).sum())
    summary.n_doubtful = int((bits.astype(np.int64) & DOUBTFUL_BITS != 0).sum())


def image_slots(plate: PlateStore, store: ResultsStore) -> tuple[np.ndarray, np.ndarray]:
    """``(well, timepoint)`` arrays: does the plate hold an image (bool), its time since
    treatment in hours (float, NaN when unknown or absent)."""
    n_w, n_t = store.shape
    present = np.zeros((n_w, n_t), dtype=bool)
    time_h = np.full((n_w, n_t), np.nan)
    for i, pos in enumerate(store.positions):
        for t, record in plate.image_records(pos.well, pos.field).items():
            if t < n_t:
                present[i, t] = True
                if record.get("time_h") is not None:
                    time_h[i, t] = float(record["time_h"])
    return present, time_h


def plan_slots(
    store: ResultsStore,
    present: np.ndarray,
    *,
    model_id: str,
    processing_version: int = PROCESSING_VERSION,
    redo: bool = False,
) -> tuple[np.ndarray, Counter[str]]:
    """Which slots to (re)do, and how many for each reason.

    A slot is to do when it was never processed, failed, gained an image, or holds a result
    of another model or another post-processing version (`PROCESSING_VERSION`); with
    ``redo``, every slot. Returns a ``(well, timepoint)`` bool mask and the count per reason,
    each slot counted once, under the first reason that applies.
    """
    status = store.read("status")
    done = status == Status.OK
    reasons = {
        "new": status == Status.PENDING,
        "failed before": status == Status.FAILED,
        "image arrived": (status == Status.NO_IMAGE) & present,
        "another model": done & (store.read("model_id") != model_id),
        "other processing version": done & (store.read("processing_version") != processing_version),
    }
    if redo:
        reasons = {"redo asked": np.ones_like(done)}
    todo = np.zeros_like(done)
    counts: Counter[str] = Counter()
    for why, mask in reasons.items():
        mask = mask & ~todo
        if mask.any():
            counts[why] = int(mask.sum())
            todo |= mask
    return todo, counts


def plan_blocks(store: ResultsStore, todo: np.ndarray) -> Iterator[Block]:
    """Blocks holding the slots of ``todo``, in time order (so early time points finish first).

    Made one at a time as they are taken, each holding only its time point, its positions
    and a bit per position to do: nothing per slot lives in the coordinator however large
    the plate (the worker reads the rest from the plate and the results store).
    """
    n_w, n_t = todo.shape
    size = store.wells_per_chunk
    for t in range(n_t):
        for start in range(0, n_w, size):
            rows = todo[start : start + size, t]
            if rows.any():
                yield Block.of(t, start, rows)


def count_blocks(todo: np.ndarray, wells_per_chunk: int) -> int:
    """How many blocks `plan_blocks` makes of ``todo``, without making them."""
    n_w, _ = todo.shape
    if not n_w:
        return 0
    chunks = np.logical_or.reduceat(todo, np.arange(0, n_w, wells_per_chunk), axis=0)
    return int(chunks.sum())


def run_plate(
    plate_path: Path | str,
    results_path: Path | str,
    *,
    segmenter: SegmenterSpec | str = "unet",
    engine: str | None = None,
    cluster: ClusterSpec | None = None,
    redo: bool = False,
    wells_per_chunk: int = 32,
    batch_size: int = 8,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> RunSummary:
    """Segment every image of a plate that has no current result, into ``results_path``.

    Parameters
    ----------
    segmenter
        The segmenter setting, or its text (``unet@0.6+tta``, ``classical``, a weight file,
        an installed plugin's name), parsed here once (`hts.segment.SegmenterSpec.parse`).
    engine
        With text: the inference engine of a network segmenter (default: automatic); a
        `SegmenterSpec` carries its own.
    cluster
        Dask workers; by default a local cluster of worker processes.
    redo
        Reprocess every slot, whatever its status.
    batch_size
        Images per engine call within a task.
    progress
        Called with the number of images (slots) just finished.
    on_plan
        Called once with the number of slots planned.
    """
    spec = as_spec(segmenter, engine)
    began = time.perf_counter()
    plate = PlateStore(plate_path)
    if plate.pixel_size_um is None:
        raise ValueError(f"{plate_path}: plate has no pixel size; re-ingest with --pixel-size-um")
    model_id = spec.model_id  # workers load the model, not the client
    with StoreLock(results_path):
        store = ResultsStore.sync(results_path, plate, wells_per_chunk=wells_per_chunk)
        present, _ = image_slots(plate, store)
        todo, reasons = plan_slots(store, present, model_id=model_id, redo=redo)
        del present
        n_blocks = count_blocks(todo, store.wells_per_chunk)
        summary = RunSummary(
            plate=plate.name or "", model_id=model_id, n_blocks=n_blocks, reasons=reasons,
            plate_path=str(plate_path), results_path=str(results_path),
        )  # fmt: skip
        n_slots = int(todo.sum())
        if on_plan is not None:
            on_plan(n_slots)
        log.info(
            "plate %s: %d images to process in %d blocks (%s)",
            plate.name, n_slots, n_blocks, summary.why(),
        )  # fmt: skip
        if n_blocks:
            _run_blocks(
                plan_blocks(store, todo), summary,
                plate_path=plate_path, results_path=results_path, segmenter=spec,
                pixel_size_um=float(plate.pixel_size_um),
                cluster=cluster, batch_size=batch_size, progress=progress,
            )  # fmt: skip
            _count_qc(store, todo, summary)
    summary.seconds = time.perf_counter() - began
    log.info(summary.line())
    if n_blocks:
        log.info(summary.qc_line())
    warning = summary.warning()
    if warning is not None:
        log.warning("plate %s: %s", plate.name, warning)
    return summary


def _run_blocks(
    blocks: Iterator[Block],
    summary: RunSummary,
    *,
    plate_path: Path | str,
    results_path: Path | str,
    segmenter: SegmenterSpec,
    pixel_size_um: float,
    cluster: ClusterSpec | None,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> None:
    def on_result(block: Block, result: dict[str, int] | None, error: BaseException | None) -> None:
        if error is not None:
            summary.counts["failed"] += block.n_slots
            summary.errors.append(f"block t={block.t} wells {block.start}:{block.stop}: {error}")
            log.error("block t=%d wells %d:%d failed: %s", block.t, block.start, block.stop, error)
        else:
            summary.counts.update(result or {})
        if progress is not None:
            progress(block.n_slots)

    with dask_client(cluster or ClusterSpec()) as client:
        plugin = SegmenterPlugin(segmenter)
        client.register_plugin(plugin)  # the model loads once per worker, now and on restarts
        # which engine each worker chose (-v); a worker that cannot load it fails its blocks
        loaded = client.run(describe_segmenter, segmenter, on_error="return")
        for worker, runs in sorted(loaded.items()):
            if isinstance(runs, str):
                log.info("worker %s runs %s", worker, runs)
            else:
                log.warning("worker %s cannot load %s: %r", worker, segmenter, runs)
        map_bounded(
            client,
            process_block,
            blocks,
            on_result=on_result,
            resources=plugin.resources(client),
            plate_path=str(Path(plate_path).resolve()),
            results_path=str(Path(results_path).resolve()),
            segmenter=segmenter,
            pixel_size_um=pixel_size_um,
            batch_size=batch_size,
        )
