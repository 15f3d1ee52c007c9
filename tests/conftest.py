"""Shared fixtures: tiny image folders and plates on disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from hts.distributed.cluster import ClusterSpec
from hts.testing import write_disk_plate


@pytest.fixture
def disk_folder(tmp_path: Path) -> Path:
    """Nine 96x128 16-bit TIFFs: wells B2, B3, C2 on days 0-2, with a plate map beside."""
    folder = tmp_path / "images"
    write_disk_plate(folder)
    return folder


@pytest.fixture
def plate_map(disk_folder: Path) -> Path:
    return disk_folder.parent / "images_plate_map.csv"


#: Segmenter plugins the tests install (``hts.segmenters`` entry points), by name.
TEST_PLUGINS = {"slow-classical": "hts.testing:slow_classical"}


@pytest.fixture(scope="session", autouse=True)
def _installed_test_plugins(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Install a package's metadata declaring `TEST_PLUGINS`, as ``pip install`` would.

    On ``sys.path`` (Dask's spawned workers copy it) and ``PYTHONPATH`` (other processes).
    """
    site = tmp_path_factory.mktemp("site-packages")
    info = site / "hts_test_plugins-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hts-test-plugins\nVersion: 0\n")
    lines = [f"{name} = {target}" for name, target in TEST_PLUGINS.items()]
    (info / "entry_points.txt").write_text("[hts.segmenters]\n" + "\n".join(lines) + "\n")
    sys.path.append(str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), str(site)) if p
    )


@pytest.fixture(scope="session")
def threads() -> ClusterSpec:
    """A small in-process Dask cluster of threads (ingest is I/O-bound)."""
    return ClusterSpec(n_workers=1, threads_per_worker=2, processes=False)


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engines cache exported models under HTS_CACHE_DIR: keep tests out of ~/.cache."""
    monkeypatch.setenv("HTS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "hts-cache"))


@pytest.fixture(scope="session")
def segmented_plate(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, Path]:
    """A small synthetic plate, ingested and segmented (classical): (SyntheticPlate, plate
    store, results store). 20 wells in 5 arms x 8 daily scans of 256 x 320 px."""
    from hts.distributed.ingest import ingest
    from hts.distributed.run import run_plate
    from hts.io import IngestOptions
    from hts.synth import write_synthetic_plate

    base = tmp_path_factory.mktemp("segmented")
    synthetic = write_synthetic_plate(
        base / "synthetic", wells=20, days=8, shape=(256, 320), pixel_size_um=6.4, seed=1
    )
    spec = ClusterSpec(n_workers=1, threads_per_worker=2, processes=False)
    plate = base / "SYN01.zarr"
    ingest(
        synthetic.images_dir,
        plate,
        options=IngestOptions(plate_map=synthetic.plate_map_csv),
        cluster=spec,
    )
    results = base / "SYN01.results.zarr"
    run_plate(plate, results, segmenter="classical", cluster=spec)
    return synthetic, plate, results
