"""Segment a plate into its results store on Dask workers; resumable block by block.

The coordinator plans blocks (one results chunk: ``wells_per_chunk`` positions at one time
point) that hold anything to do: slots never processed, failed, made by another model, or
that gained an image since. Each worker task reads its images, segments, measures and
writes its whole chunk, so results land as tasks finish and a re-run redoes only what is
missing.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hts.distributed.cluster import ClusterSpec, dask_client, map_bounded
from hts.io.omezarr import PlateStore
from hts.results.schema import ERROR_WIDTH, MEASUREMENTS, Status
from hts.results.store import ResultsStore
from hts.wells import WellId

__all__ = ["Block", "RunSummary", "image_slots", "plan_blocks", "process_block", "run_plate"]

log = logging.getLogger(__name__)


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


@dataclass
class RunSummary:
    """Counts of one run, by final status of the slots it touched."""

    plate: str
    model_id: str
    n_blocks: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items())) or "nothing to do"
        return f"plate {self.plate}, model {self.model_id}: {parts}"


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


def plan_blocks(
    store: ResultsStore,
    present: np.ndarray,
    time_h: np.ndarray,
    *,
    model_id: str,
    redo: bool = False,
) -> list[Block]:
    """Blocks with anything to do, in time order (so early time points finish first)."""
    status = store.read("status")
    models = store.read("model_id")
    todo = (
        (status == Status.PENDING)
        | (status == Status.FAILED)
        | ((status == Status.NO_IMAGE) & present)
        | ((status == Status.OK) & (models != model_id))
    )
    if redo:
        todo[:] = True
    positions = store.positions
    n_w, n_t = status.shape
    size = store.wells_per_chunk
    blocks = []
    for t in range(n_t):
        for start in range(0, n_w, size):
            stop = min(start + size, n_w)
            slots = tuple(int(i) for i in np.flatnonzero(todo[start:stop, t]) + start)
            if slots:
                blocks.append(
                    Block(
                        t, start, stop, slots,
                        tuple(bool(present[i, t]) for i in slots),
                        tuple(float(time_h[i, t]) for i in slots),
                        tuple((positions[i].well.name, positions[i].field) for i in slots),
                    )
                )  # fmt: skip
    return blocks


def process_block(
    block: Block, *, plate_path: str, results_path: str, segmenter: str, pixel_size_um: float
) -> dict[str, int]:
    """Worker task: segment and measure the block's slots and write its chunk."""
    from hts.segment.analyse import analyse_probability
    from hts.segment.registry import get_segmenter

    model = get_segmenter(segmenter)
    plate = PlateStore(plate_path)
    store = ResultsStore(results_path)
    rows = slice(block.start, block.stop)
    names = [s.name for s in MEASUREMENTS] + [
        "n_objects",
        "qc_flags",
        "status",
        "model_id",
        "error",
        "time_since_treatment_h",
    ]
    values = store.read_block(rows, block.t, names)
    counts: Counter[str] = Counter()
    for slot, present, time_h, (well_name, field_) in zip(
        block.slots, block.present, block.time_h, block.wells, strict=True
    ):
        i = slot - block.start
        for spec in MEASUREMENTS:
            values[spec.name][i] = np.nan
        values["n_objects"][i] = -1
        values["qc_flags"][i] = 0
        values["model_id"][i] = model.model_id
        values["error"][i] = ""
        values["time_since_treatment_h"][i] = time_h
        if not present:
            values["status"][i] = Status.NO_IMAGE
            counts["no_image"] += 1
            continue
        try:
            image = plate.read_image(WellId.parse(well_name), field_, block.t)
            probability = model.predict(image, pixel_size_um=pixel_size_um)
            result = analyse_probability(probability, pixel_size_um=pixel_size_um, image=image)
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the block
            values["status"][i] = Status.FAILED
            values["error"][i] = f"{type(exc).__name__}: {exc}"[:ERROR_WIDTH]
            counts["failed"] += 1
            logging.getLogger(__name__).warning(
                "%s t=%d failed: %s", well_name, block.t, traceback.format_exc(limit=3)
            )
            continue
        m = result.measurement
        values["area_um2"][i] = m.area_um2
        values["perimeter_um"][i] = m.perimeter_um
        values["diameter_um"][i] = m.diameter_um
        values["volume_um3"][i] = m.volume_um3
        values["circularity"][i] = m.circularity
        values["centroid_y_um"][i] = m.centroid_y_px * pixel_size_um
        values["centroid_x_um"][i] = m.centroid_x_px * pixel_size_um
        values["n_objects"][i] = m.n_objects
        values["qc_flags"][i] = result.flags.to_bits()
        values["status"][i] = Status.OK
        counts["ok"] += 1
    store.write_block(rows, block.t, values)
    return dict(counts)


def run_plate(
    plate_path: Path | str,
    results_path: Path | str,
    *,
    segmenter: str = "classical",
    cluster: ClusterSpec | None = None,
    redo: bool = False,
    wells_per_chunk: int = 32,
    progress: Callable[[int], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> RunSummary:
    """Segment every image of a plate that has no current result, into ``results_path``.

    Parameters
    ----------
    segmenter
        Registered segmenter name (see :func:`hts.segment.registry.available_segmenters`).
    cluster
        Dask workers; by default a local cluster of worker processes.
    redo
        Reprocess every slot, whatever its status.
    progress
        Called with the number of images (slots) just finished.
    on_plan
        Called once with the number of slots planned.
    """
    from hts.segment.registry import get_segmenter

    plate = PlateStore(plate_path)
    if plate.pixel_size_um is None:
        raise ValueError(f"{plate_path}: plate has no pixel size; re-ingest with --pixel-size-um")
    model_id = get_segmenter(segmenter).model_id
    store = ResultsStore.sync(results_path, plate, wells_per_chunk=wells_per_chunk)
    present, time_h = image_slots(plate, store)
    blocks = plan_blocks(store, present, time_h, model_id=model_id, redo=redo)
    summary = RunSummary(plate=plate.name or "", model_id=model_id, n_blocks=len(blocks))
    n_slots = sum(len(b.slots) for b in blocks)
    if on_plan is not None:
        on_plan(n_slots)
    log.info("plate %s: %d images to process in %d blocks", plate.name, n_slots, len(blocks))
    if not blocks:
        return summary

    def on_result(block: Block, result: dict[str, int] | None, error: BaseException | None) -> None:
        if error is not None:
            summary.counts["failed"] += len(block.slots)
            summary.errors.append(f"block t={block.t} wells {block.start}:{block.stop}: {error}")
            log.error("block t=%d wells %d:%d failed: %s", block.t, block.start, block.stop, error)
        else:
            summary.counts.update(result or {})
        if progress is not None:
            progress(len(block.slots))

    with dask_client(cluster or ClusterSpec()) as client:
        map_bounded(
            client,
            process_block,
            blocks,
            on_result=on_result,
            plate_path=str(Path(plate_path).resolve()),
            results_path=str(Path(results_path).resolve()),
            segmenter=segmenter,
            pixel_size_um=float(plate.pixel_size_um),
        )
    log.info(summary.line())
    return summary
