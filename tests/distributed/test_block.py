"""The worker's task in this process: read -> predict -> analyse -> write, one block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hts.distributed import ClusterSpec, image_slots, plan_blocks, plan_slots, process_block
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
    present, time_h = image_slots(plate, store)
    todo, _ = plan_slots(store, present, model_id=spec.model_id)
    blocks = plan_blocks(store, todo, present, time_h)
    assert all(isinstance(w, WellId) for b in blocks for w, _ in b.wells)
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
