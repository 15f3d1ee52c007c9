"""Prefect offline (one test harness per session), a real Dask cluster, synthetic plates.

Prefect reads its settings when it is imported, so the environment that keeps it offline
and out of ``~/.prefect`` is set here, before any test module imports ``prefect``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

_HOME = os.environ.get("HTS_TEST_PREFECT_HOME")
if _HOME is None:
    _HOME = tempfile.mkdtemp(prefix="hts-prefect-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)

#: Environment for every Prefect process of the tests (this one, servers, workers).
OFFLINE_PREFECT = {
    "PREFECT_HOME": _HOME,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no telemetry from the server
    "DO_NOT_TRACK": "1",  # nor from the client
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # a busy 2-core machine
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
}
os.environ.update(OFFLINE_PREFECT)
os.environ["HTS_TEST_PREFECT_HOME"] = OFFLINE_PREFECT["PREFECT_HOME"]
os.environ.pop("PREFECT_API_URL", None)  # never a user's server or Prefect Cloud
os.environ.pop("PREFECT_API_KEY", None)
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")

import pytest  # noqa: E402

from hts.synth import SyntheticPlate, write_synthetic_plate  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness: a temporary local API server on SQLite, for the whole session."""
    import prefect.settings
    from prefect.testing.utilities import prefect_test_harness

    assert str(prefect.settings.PREFECT_HOME.value()) == OFFLINE_PREFECT["PREFECT_HOME"], (
        "prefect was imported before tests/flows/conftest.py could isolate it"
    )
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(autouse=True)
def _undelayed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``slow-classical`` test plugin without its delay: classical's results under another
    model id (for Dask workers started during the test, which inherit this environment)."""
    monkeypatch.setenv("HTS_TEST_DELAY_S", "0")


@pytest.fixture(scope="session")
def scheduler() -> Iterator[str]:
    """Address of a real Dask cluster: two worker processes, shared by the session's flows."""
    from distributed import LocalCluster

    before = os.environ.get("HTS_TEST_DELAY_S")
    os.environ["HTS_TEST_DELAY_S"] = "0"  # its workers inherit it (see _undelayed)
    try:
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster:
            yield cluster.scheduler_address
    finally:
        if before is None:
            os.environ.pop("HTS_TEST_DELAY_S", None)
        else:
            os.environ["HTS_TEST_DELAY_S"] = before


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPlate:
    """A small synthetic plate: 4 wells x 3 days of 260x206 px images (8 um per pixel)."""
    out = tmp_path_factory.mktemp("synthetic")
    return write_synthetic_plate(out, wells=4, days=3, shape=(206, 260), pixel_size_um=8.0)


def copy_days(plate: SyntheticPlate, days: Sequence[int], dest: Path) -> list[Path]:
    """Copy the images of ``days`` (days after treatment) into ``dest``, as if just imaged."""
    import csv

    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    with plate.truth_csv.open() as fh:
        for row in csv.DictReader(fh):
            if int(float(row["day"])) in days:
                copied.append(Path(shutil.copy2(plate.out_dir / row["image"], dest)))
    return copied


@pytest.fixture(scope="session")
def images_of_days() -> Any:
    return copy_days


@dataclass
class PrefectAPI:
    """Reads what a flow run left in the Prefect API."""

    def task_runs(self, flow_run_id: UUID) -> list[Any]:
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        with get_client(sync_client=True) as client:
            return client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )

    def flow_run(self, flow_run_id: UUID) -> Any:
        from prefect import get_client

        with get_client(sync_client=True) as client:
            return client.read_flow_run(flow_run_id)

    def markdown(self, key: str, flow_run_id: UUID) -> str:
        """The Markdown of the artifact ``key`` published by that flow run."""
        from prefect import get_client
        from prefect.client.schemas.filters import (
            ArtifactFilter,
            ArtifactFilterFlowRunId,
            ArtifactFilterKey,
        )

        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                )
            )
        assert len(found) == 1, f"{len(found)} artifacts {key!r} in flow run {flow_run_id}"
        return str(found[0].data)


@pytest.fixture(scope="session")
def prefect_api() -> PrefectAPI:
    return PrefectAPI()
