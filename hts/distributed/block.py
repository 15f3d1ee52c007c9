"""The worker's task: one block (a results chunk) from plate images to written measurements.

Reading and decoding run in a small thread pool ahead of inference, and post-processing of
one batch overlaps inference of the next, so the engine waits as little as possible. The
segmenter comes from the per-process cache (loaded once per worker by the worker plugin).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from hts.io.omezarr import PlateStore
from hts.measure.contour import encode_contour
from hts.results.schema import ERROR_WIDTH, MEASUREMENTS, VARIABLES, Status
from hts.results.store import ResultsStore
from hts.wells import WellId

__all__ = ["Block", "process_block"]

log = logging.getLogger(__name__)

_PER_IMAGE = [spec.name for spec in VARIABLES]


@dataclass(frozen=True)
class Block:
    """Positions ``start:stop`` at time point ``t``; ``slots`` are the rows to (re)do."""

    t: int
    start: int
    stop: int
    slots: tuple[int, ...]
    present: tuple[bool, ...]  # per slot: does the plate hold an image?
    time_h: tuple[float, ...]  # per slot: the image's time since treatment (NaN: unknown)
    wells: tuple[tuple[str, int], ...]  # per slot: (well name, field)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_WIDTH]


def _predict(model: Any, images: list[np.ndarray], um: float) -> list[np.ndarray | BaseException]:
    """Probabilities per image; a failing batch is retried image by image to isolate the bad one."""
    try:
        if hasattr(model, "predict_batch"):
            return list(model.predict_batch(images))
        return [model.predict(im, pixel_size_um=um) for im in images]
    except Exception:
        if len(images) == 1:
            raise
    out: list[np.ndarray | BaseException] = []
    for im in images:
        try:
            out.append(model.predict(im, pixel_size_um=um))
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the block
            out.append(exc)
    return out


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def process_block(
    block: Block,
    *,
    plate_path: str,
    results_path: str,
    segmenter: str,
    pixel_size_um: float,
    engine: str | None = None,
    batch_size: int = 8,
) -> dict[str, int]:
    """Segment and measure the block's slots, then write its chunk; returns counts by status."""
    from hts.segment.analyse import PROCESSING_VERSION, analyse_probability
    from hts.segment.registry import get_segmenter

    model = get_segmenter(segmenter, engine)
    plate = PlateStore(plate_path)
    store = ResultsStore(results_path)
    rows = slice(block.start, block.stop)
    values = store.read_block(rows, block.t, _PER_IMAGE)
    counts: Counter[str] = Counter()
    counts_lock = threading.Lock()  # post-processing threads count too
    todo: list[tuple[int, str, int]] = []  # (row in block, well, field)
    for slot, present, time_h, (well, field_) in zip(
        block.slots, block.present, block.time_h, block.wells, strict=True
    ):
        i = slot - block.start
        for spec in VARIABLES:
            if spec.name in values:
                values[spec.name][i] = spec.fill
        values["model_id"][i] = model.model_id
        values["processing_version"][i] = PROCESSING_VERSION
        values["time_since_treatment_h"][i] = time_h
        if present:
            todo.append((i, well, field_))
        else:
            values["status"][i] = Status.NO_IMAGE
            counts["no_image"] += 1

    def fail(i: int, well: str, exc: BaseException) -> None:
        values["status"][i] = Status.FAILED
        values["error"][i] = _error(exc)
        with counts_lock:
            counts["failed"] += 1
        log.warning("%s t=%d failed: %s", well, block.t, _error(exc))

    def read(job: tuple[int, str, int]) -> np.ndarray | BaseException:
        try:
            return plate.read_image(WellId.parse(job[1]), job[2], block.t)
        except Exception as exc:  # noqa: BLE001 - reported per image
            return exc

    def post(job: tuple[int, str, int], image: np.ndarray, prob: np.ndarray) -> None:
        i, well, _ = job
        try:
            result = analyse_probability(prob, pixel_size_um=pixel_size_um, image=image)
        except Exception as exc:  # noqa: BLE001 - reported per image
            fail(i, well, exc)
            return
        m = result.measurement
        for spec in MEASUREMENTS:
            if spec.name.startswith("centroid_"):
                continue
            values[spec.name][i] = getattr(m, spec.name)
        values["centroid_y_um"][i] = m.centroid_y_px * pixel_size_um
        values["centroid_x_um"][i] = m.centroid_x_px * pixel_size_um
        values["n_objects"][i] = m.n_objects
        values["qc_flags"][i] = result.flags.to_bits()
        values["contour"][i] = encode_contour(result.contour)
        values["status"][i] = Status.OK
        with counts_lock:
            counts["ok"] += 1

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hts-io") as pool:
        decoded = pool.map(read, todo)  # decodes ahead while the engine works
        pending: list[Future[None]] = []
        for jobs in _batches(todo, batch_size):
            images: list[np.ndarray] = []
            ready: list[tuple[int, str, int]] = []
            for job in jobs:
                image = next(decoded)
                if isinstance(image, BaseException):
                    fail(job[0], job[1], image)
                else:
                    images.append(image)
                    ready.append(job)
            if not images:
                continue
            try:
                probs = _predict(model, images, pixel_size_um)
            except Exception as exc:  # noqa: BLE001 - the whole batch failed
                for job in ready:
                    fail(job[0], job[1], exc)
                continue
            for job, image, prob in zip(ready, images, probs, strict=True):
                if isinstance(prob, BaseException):
                    fail(job[0], job[1], prob)
                else:
                    pending.append(pool.submit(post, job, image, prob))
        for future in pending:
            future.result()
    store.write_block(rows, block.t, values)
    return dict(counts)
