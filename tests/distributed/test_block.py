"""The worker's task in this process: read -> predict -> analyse -> write, one block."""

from __future__ import annotations

import pickle
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hts.distributed import (
    Block,
    ClusterSpec,
    count_blocks,
    image_slots,
    plan_blocks,
    plan_slots,
    process_block,
)
from hts.distributed.ingest import ingest
from hts.io import IngestOptions, PlateStore
from hts.results import ResultsStore, Status
from hts.segment import ClassicalSegmenter, SegmenterSpec, register_segmenter
from hts.segment import registry as segment_registry
from hts.wells import WellId


class OddFails(ClassicalSegmenter):
    """The classical baseline, refusing images whose first pixel is odd, and refusing any
    batch that holds one: the block must isolate them image by image."""

    def predict_batch(self, images: list[np.ndarray], *, pixel_size_um: float) -> list[np.ndarray]:
        if any(int(im[0, 0]) % 2 for im in images):
            raise ValueError("odd first pixel")
        return super().predict_batch(images, pixel_size_um=pixel_size_um)


@pytest.fixture
def stores(
    disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec
) -> tuple[Path, Path]:
    plate = tmp_path / "plate.zarr"
    ingest(disk_folder, plate, options=IngestOptions(plate_map=plate_map), cluster=threads)
    results = tmp_path / "plate.results.zarr"
    ResultsStore.sync(results, PlateStore(plate), wells_per_chunk=2)
    return plate, results


def _run(plate_path: Path, results_path: Path, spec: SegmenterSpec) -> dict[str, int]:
    plate, store = PlateStore(plate_path), ResultsStore(results_path)
    present, _ = image_slots(plate, store)
    todo, _ = plan_slots(store, present, model_id=spec.model_id)
    blocks = list(plan_blocks(store, todo))
    assert all(isinstance(p.well, WellId) for p in store.positions)  # the worker's names
    assert sum(b.n_slots for b in blocks) == int(todo.sum())
    counts: dict[str, int] = {}
    for block in blocks:
        done = process_block(
            block, plate_path=str(plate_path), results_path=str(results_path),
            segmenter=spec, pixel_size_um=float(plate.pixel_size_um or 0), batch_size=4,
        )  # fmt: skip
        for key, n in done.items():
            counts[key] = counts.get(key, 0) + n
    return counts


def test_a_block_is_measured_and_written_whole(stores: tuple[Path, Path]) -> None:
    plate, results = stores
    spec = SegmenterSpec.parse("classical")
    assert _run(plate, results, spec) == {"ok": 9}
    store = ResultsStore(results)
    assert (store.read("status") == Status.OK).all()
    assert set(store.read("model_id").ravel()) == {"classical-1"}
    um = PlateStore(plate).pixel_size_um
    assert um and np.all(store.read("centroid_x_um") > 0) and np.all(store.read("area_um2") > 0)
    assert all(text.count(",") > 4 for text in store.read("contour").ravel())


def test_a_bad_image_fails_alone(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segment_registry, "_FACTORIES", dict(segment_registry._FACTORIES))
    register_segmenter("odd-fails", lambda engine: OddFails(model_id="odd-fails-1"))
    plate_path, results = stores
    plate = PlateStore(plate_path)
    store = ResultsStore(results)
    odd = {
        (i, t)
        for i, pos in enumerate(store.positions)
        for t in range(store.shape[1])
        if int(plate.read_image(pos.well, pos.field, t)[0, 0]) % 2
    }
    assert 0 < len(odd) < 9  # some images of each kind
    counts = _run(plate_path, results, SegmenterSpec.parse("odd-fails"))
    assert counts.get("failed", 0) == len(odd) and counts["ok"] == 9 - len(odd)
    status, error = store.read("status"), store.read("error")
    for i, t in odd:
        assert status[i, t] == Status.FAILED and error[i, t] == "ValueError: odd first pixel"


def test_planning_a_large_plate_holds_nothing_per_slot(stores: tuple[Path, Path]) -> None:
    """Blocks are made one at a time as they are taken, and each holds its time point, its
    positions and a bit per position: nothing per slot, whatever the size of the plate."""
    store = ResultsStore(stores[1])
    size = store.wells_per_chunk

    def largest_pickle(todo: np.ndarray) -> int:
        return max(len(pickle.dumps(b)) for b in plan_blocks(store, todo))

    small = np.ones((3, 3), dtype=bool)
    # the plan reads only the chunk size from the store: a 1536-well plate of 400 scans
    large = np.ones((1536, 400), dtype=bool)
    large[::7, ::3] = False  # some slots done already
    # the same few bytes (a time point past 255 or a start past 65535 pickles a byte longer)
    assert largest_pickle(small) <= largest_pickle(large) <= largest_pickle(small) + 8 < 128

    blocks = plan_blocks(store, large)
    assert isinstance(blocks, Iterator) and not isinstance(blocks, list | tuple)
    tracemalloc.start(25)
    try:
        first = next(blocks)
        # what the plan holds once it has made its first block (made by `hts.distributed`;
        # other threads' allocations do not count)
        held = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*hts/distributed/*", all_frames=True)]
        )
    finally:
        tracemalloc.stop()
    assert sum(stat.size for stat in held.statistics("filename")) < 10_000  # bytes
    n_blocks, n_slots = 1, first.n_slots
    for block in blocks:  # taken one at a time, as `map_bounded` does
        n_blocks += 1
        n_slots += block.n_slots
    assert n_slots == int(large.sum()) and n_blocks == count_blocks(large, size)
    assert (first.t, first.start, first.stop) == (0, 0, size) and first.slots == (1,)
    assert first == Block.of(0, 0, large[:size, 0])


def test_a_resumed_block_does_only_its_missing_slots(stores: tuple[Path, Path]) -> None:
    plate, results = stores
    spec = SegmenterSpec.parse("classical")
    assert _run(plate, results, spec) == {"ok": 9}
    store = ResultsStore(results)
    before = store.read("diameter_um")
    # two slots lose their result; a done slot sharing a chunk with one is marked, so a
    # block that redid it (or any slot not to do) would overwrite the mark
    status = store.read("status")
    missing = [(0, 1), (2, 2)]
    for i, t in missing:
        status[i, t] = Status.PENDING
    import zarr

    zarr.open_array(str(results / "status"), mode="r+")[:] = status
    diameters = zarr.open_array(str(results / "diameter_um"), mode="r+")
    diameters[1, 1] = -1.0
    present, _ = image_slots(PlateStore(plate), store)
    todo, reasons = plan_slots(store, present, model_id=spec.model_id)
    assert reasons == {"new": 2} and sorted(zip(*np.nonzero(todo), strict=True)) == missing
    assert [(b.t, b.start, b.slots) for b in plan_blocks(store, todo)] == [
        (1, 0, (0,)),
        (2, 2, (2,)),
    ]
    assert _run(plate, results, spec) == {"ok": 2}
    after = store.read("diameter_um")
    assert (store.read("status") == Status.OK).all() and after[1, 1] == -1.0
    after[1, 1] = before[1, 1]
    np.testing.assert_array_equal(after, before)
    np.testing.assert_allclose(store.read("time_since_treatment_h"), [[0.0, 24.0, 48.0]] * 3)
