"""The worker's task: one block (a results chunk) from plate images to written measurements.

read -> predict -> analyse -> write: reading and decoding run in a small thread pool ahead
of inference, and the analysis of one batch overlaps inference of the next, so the engine
waits as little as possible. The segmenter comes from the per-process cache (loaded once
per worker by the worker plugin); what is stored per image is `hts.results.values`'.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from hts.io.omezarr import PlateStore
from hts.results.store import ResultsStore
from hts.results.values import (
    PER_IMAGE,
    blank_values,
    error_text,
    failed_values,
    measured_values,
    no_image_values,
    set_row,
)
from hts.segment import (
    PROCESSING_VERSION,
    Segmenter,
    SegmenterSpec,
    analyse_probability,
    get_segmenter,
)
from hts.wells import WellId

__all__ = ["Block", "process_block"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Block:
    """Positions ``start:stop`` at time point ``t``; ``todo`` marks the rows to (re)do.

    Bit ``i`` of ``todo`` is position ``start + i``. A block holds nothing else: the worker
    reads the slots' images, times since treatment and names from the plate and the results
    store, so a block's size does not grow with the plate and planning holds no per-slot
    objects.
    """

    t: int
    start: int
    stop: int
    todo: int

    @classmethod
    def of(cls, t: int, start: int, rows: np.ndarray) -> Block:
        """The block of positions ``start:start + len(rows)`` at ``t``, to do where ``rows``."""
        todo = sum(1 << int(i) for i in np.flatnonzero(rows))
        return cls(t, start, start + len(rows), todo)

    @property
    def n_slots(self) -> int:
        """How many slots the block is to do."""
        return self.todo.bit_count()

    @property
    def slots(self) -> tuple[int, ...]:
        """The positions (rows of the results store) to do, in order."""
        return tuple(i for i in range(self.start, self.stop) if self.todo >> (i - self.start) & 1)


@dataclass(frozen=True)
class _Job:
    """One image to do: its row in the block and where the plate keeps it."""

    row: int
    well: WellId
    field: int


class _Rows:
    """The block's values as the store will get them, and counts by outcome; shared by
    the analysis threads."""

    def __init__(self, values: dict[str, np.ndarray], t: int) -> None:
        self.values = values
        self.t = t
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, row: int, values: Mapping[str, Any], outcome: str) -> None:
        set_row(self.values, row, values)
        with self._lock:
            self.counts[outcome] += 1

    def fail(self, job: _Job, error: BaseException) -> None:
        self.record(job.row, failed_values(error), "failed")
        log.warning("%s t=%d failed: %s", job.well, self.t, error_text(error))


def process_block(
    block: Block,
    *,
    plate_path: str,
    results_path: str,
    segmenter: SegmenterSpec,
    pixel_size_um: float,
    batch_size: int = 8,
) -> dict[str, int]:
    """Segment and measure the block's slots, then write its chunk; returns counts by status."""
    model = get_segmenter(segmenter)
    plate = PlateStore(plate_path)
    store = ResultsStore(results_path)
    wells = slice(block.start, block.stop)
    rows = _Rows(store.read_block(wells, block.t, list(PER_IMAGE)), block.t)
    jobs = _start(block, rows, plate, store, model_id=model.model_id)

    def read(job: _Job) -> np.ndarray | BaseException:
        try:
            return plate.read_image(job.well, job.field, block.t)
        except Exception as exc:  # noqa: BLE001 - reported per image
            return exc

    def analyse(job: _Job, image: np.ndarray, probability: np.ndarray) -> None:
        try:
            analysis = analyse_probability(probability, pixel_size_um=pixel_size_um, image=image)
        except Exception as exc:  # noqa: BLE001 - reported per image
            rows.fail(job, exc)
            return
        rows.record(job.row, measured_values(analysis, pixel_size_um=pixel_size_um), "ok")

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hts-io") as pool:
        decoded = pool.map(read, jobs)  # decodes ahead while the engine works
        pending: list[Future[None]] = []
        for batch in _batches(jobs, batch_size):
            ready, images = _readable(batch, decoded, rows)
            for job, image, probability in zip(
                ready, images, _predict(model, images, pixel_size_um, ready, rows), strict=True
            ):
                if probability is not None:
                    pending.append(pool.submit(analyse, job, image, probability))
        for future in pending:
            future.result()
    store.write_block(wells, block.t, rows.values)
    return dict(rows.counts)


def _start(
    block: Block, rows: _Rows, plate: PlateStore, store: ResultsStore, *, model_id: str
) -> list[_Job]:
    """Blank every slot to do (recording who does it); the slots with an image to read.

    Whether the plate holds an image and its time since treatment come from the plate's
    provenance records, the position's well and field from the results store.
    """
    positions = store.positions[block.start : block.stop]
    jobs = []
    for slot in block.slots:
        row = slot - block.start
        well, field = positions[row].well, positions[row].field
        record = plate.image_records(well, field).get(block.t)
        time_h = record.get("time_h") if record is not None else None
        set_row(
            rows.values,
            row,
            blank_values(
                model_id=model_id,
                processing_version=PROCESSING_VERSION,
                time_since_treatment_h=float("nan") if time_h is None else float(time_h),
            ),
        )
        if record is not None:
            jobs.append(_Job(row, well, field))
        else:
            rows.record(row, no_image_values(), "no_image")
    return jobs


def _batches(items: list[_Job], size: int) -> Iterator[list[_Job]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _readable(
    batch: list[_Job], decoded: Iterator[np.ndarray | BaseException], rows: _Rows
) -> tuple[list[_Job], list[np.ndarray]]:
    """The jobs of ``batch`` whose image decoded, and their images; the others fail."""
    ready, images = [], []
    for job in batch:
        image = next(decoded)
        if isinstance(image, BaseException):
            rows.fail(job, image)
        else:
            ready.append(job)
            images.append(image)
    return ready, images


def _predict(
    model: Segmenter, images: list[np.ndarray], um: float, jobs: list[_Job], rows: _Rows
) -> list[np.ndarray | None]:
    """Probabilities per image (None where it failed, recorded in ``rows``); a failing batch
    is retried image by image to isolate the bad one."""
    if not images:
        return []
    try:
        return list(model.predict_batch(images, pixel_size_um=um))
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the block
        if len(images) == 1:
            rows.fail(jobs[0], exc)
            return [None]
    out: list[np.ndarray | None] = []
    for job, image in zip(jobs, images, strict=True):
        try:
            out.append(model.predict_batch([image], pixel_size_um=um)[0])
        except Exception as exc:  # noqa: BLE001 - reported per image
            rows.fail(job, exc)
            out.append(None)
    return out
