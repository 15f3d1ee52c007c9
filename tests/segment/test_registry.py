"""Choosing a segmenter by name: built-ins, installed plugins, never a module given at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from hts.cli.main import main
from hts.distributed.cluster import ClusterSpec
from hts.distributed.ingest import ingest
from hts.distributed.run import run_plate
from hts.io import IngestOptions
from hts.results import open_results
from hts.segment.registry import (
    PLUGIN_GROUP,
    available_segmenters,
    get_segmenter,
    segmenter_model_id,
)


@pytest.fixture
def plate_path(disk_folder: Path, plate_map: Path, tmp_path: Path, threads: ClusterSpec) -> Path:
    out = tmp_path / "plate.zarr"
    ingest(disk_folder, out, options=IngestOptions(plate_map=plate_map), cluster=threads)
    return out


def test_a_module_named_at_run_time_is_never_imported_or_called(
    plate_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran"
    status = main(
        ["-q", "run", str(plate_path), "--model", "os:system", "--engine", f"touch {marker}"]
    )
    assert status == 1 and not marker.exists()
    err = capsys.readouterr().err
    assert "unknown segmenter 'os:system'" in err and PLUGIN_GROUP in err
    with pytest.raises(ValueError, match="entry-point group"):
        segmenter_model_id("os:system", f"touch {marker}")
    with pytest.raises(ValueError, match="unknown segmenter"):
        get_segmenter("subprocess:getoutput", f"touch {marker}")
    assert not marker.exists()


def test_an_installed_plugin_is_listed_and_runs_on_worker_processes(
    plate_path: Path, tmp_path: Path
) -> None:
    # tests/conftest.py installs a package declaring "slow-classical" in hts.segmenters
    assert "slow-classical" in available_segmenters()
    assert {"unet", "classical"} <= set(available_segmenters())
    results = tmp_path / "r.zarr"
    summary = run_plate(
        plate_path,
        results,
        segmenter="slow-classical",
        cluster=ClusterSpec(n_workers=1, threads_per_worker=1, processes=True),
    )
    assert summary.counts["ok"] == 9 and summary.model_id == "slow-classical-1"
    assert set(open_results(results).model_id.values.ravel()) == {"slow-classical-1"}
