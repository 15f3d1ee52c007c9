"""Reprocessing an archive with another model version: every image redone, one task per plate,
retries, and a resumed re-run after a plate failed."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from flows import ClusterConfig, reprocess_archive
from flows.steps import default_results_path
from flows.tasks import artifact_key
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.distributed.run import run_plate
from hts.io import IngestOptions
from hts.io.lock import lock_path
from hts.results import open_results
from hts.synth import SyntheticPlate
from hts.testing import write_disk_plate

OTHER_MODEL = "slow-classical"  # classical's results under another model id


def _plate(images: Path, plate_map: Path, out: Path, scheduler: str) -> Path:
    """Ingest ``images`` and segment them with ``classical``, as the nightly runs did."""
    ingest(images, out, options=IngestOptions(plate_map=plate_map))
    run_plate(out, default_results_path(out), segmenter="classical", cluster=ClusterSpec(scheduler))
    return out


@pytest.fixture
def archive(tmp_path: Path, synthetic: SyntheticPlate, scheduler: str, images_of_days: Any) -> Path:
    """An archive of two plates segmented with ``classical``: SYN01 (12 images), TEST01 (9)."""
    root = tmp_path / "archive"
    images_of_days(synthetic, (0, 1, 2), tmp_path / "syn")
    _plate(tmp_path / "syn", synthetic.plate_map_csv, root / "2026" / "SYN01.zarr", scheduler)
    write_disk_plate(tmp_path / "disks")
    _plate(tmp_path / "disks", tmp_path / "disks_plate_map.csv", root / "TEST01.zarr", scheduler)
    return root


def _models(plate: Path) -> set[str]:
    return set(open_results(default_results_path(plate)).model_id.values.ravel().tolist())


def test_another_model_redoes_every_image_one_task_per_plate(
    archive: Path, prefect_api: Any
) -> None:
    syn, disks = archive / "2026" / "SYN01.zarr", archive / "TEST01.zarr"
    before = open_results(default_results_path(syn)).load()
    state = reprocess_archive(
        archive=str(archive),
        model=OTHER_MODEL,
        cluster=ClusterConfig(n_workers=2),
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert {Path(o.plate_path).name: o.counts for o in summary.done} == {
        "SYN01.zarr": {"ok": 12},
        "TEST01.zarr": {"ok": 9},
    }
    assert _models(syn) == _models(disks) == {"slow-classical-1"}
    after = open_results(default_results_path(syn)).load()
    xr.testing.assert_equal(after.drop_vars("model_id"), before.drop_vars("model_id"))

    runs = prefect_api.task_runs(state.state_details.flow_run_id)
    segment_runs = [r for r in runs if r.task_key.startswith("segment_plate")]
    assert len(segment_runs) == 2 and len(runs) == 3  # + the published report
    text = prefect_api.markdown(
        artifact_key("reprocess", OTHER_MODEL), state.state_details.flow_run_id
    )
    assert "2 plates done, 0 failed; 21 images processed" in text
    assert "| 9 another model |" in text  # TEST01's classical results, redone

    # the same model again: nothing left to do
    again = reprocess_archive(
        plates=[str(syn), str(disks)], model=OTHER_MODEL, cluster=ClusterConfig(n_workers=1)
    )
    assert again.n_processed == 0


def test_a_failing_plate_is_retried_then_resumed_by_the_next_run(
    archive: Path, scheduler: str, prefect_api: Any
) -> None:
    syn, disks = archive / "2026" / "SYN01.zarr", archive / "TEST01.zarr"
    # another (live) run holds TEST01's results store
    lock = lock_path(default_results_path(disks))
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    state = reprocess_archive(
        archive=str(archive), model=OTHER_MODEL, cluster=ClusterConfig(scheduler=scheduler),
        retries=2, retry_delay_s=0, return_state=True,
    )  # fmt: skip
    assert state.is_failed()
    assert "TEST01.zarr: StoreLocked" in str(state.result(raise_on_failure=False))
    runs = {
        r.name.removeprefix("segment-plate-"): r
        for r in prefect_api.task_runs(state.state_details.flow_run_id)
        if r.task_key.startswith("segment_plate")
    }
    assert runs["TEST01.zarr"].run_count == 3  # the first try and two retries
    assert runs["TEST01.zarr"].state.is_failed() and runs["SYN01.zarr"].state.is_completed()
    assert _models(syn) == {"slow-classical-1"} and _models(disks) == {"classical-1"}
    text = prefect_api.markdown(
        artifact_key("reprocess", OTHER_MODEL), state.state_details.flow_run_id
    )
    assert "1 plates done, 1 failed" in text and "FAILED: StoreLocked" in text

    lock.unlink()  # that run ended: the next run does only what is left
    summary = reprocess_archive(
        archive=str(archive), model=OTHER_MODEL, cluster=ClusterConfig(scheduler=scheduler)
    )
    assert {Path(o.plate_path).name: o.n_processed for o in summary.done} == {
        "SYN01.zarr": 0,
        "TEST01.zarr": 9,
    }
    assert _models(disks) == {"slow-classical-1"}


def test_force_redoes_images_of_the_same_model(archive: Path, scheduler: str) -> None:
    syn = archive / "2026" / "SYN01.zarr"
    summary = reprocess_archive(
        plates=[str(syn)], model="classical", force=True, cluster=ClusterConfig(scheduler=scheduler)
    )
    assert [o.counts for o in summary.done] == [{"ok": 12}]
    diameter = open_results(default_results_path(syn)).diameter_um.values
    assert np.isfinite(diameter).all()


def test_no_plates_is_an_error(tmp_path: Path) -> None:
    state = reprocess_archive(archive=str(tmp_path), model="classical", return_state=True)
    assert state.is_failed()
    assert "no plates to reprocess" in str(state.result(raise_on_failure=False))
