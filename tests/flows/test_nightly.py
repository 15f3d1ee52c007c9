"""The nightly flow end to end: Prefect's API, a multi-process Dask cluster, a synthetic plate.

Night 1 finds days 0-1 of a plate; then day 2 is imaged; night 2 must ingest and segment
exactly day 2's images; night 3, with nothing new, must do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pytest
import xarray as xr

from flows import ClusterConfig, NightlySummary, nightly_screen
from flows.tasks import artifact_key
from hts.results import Status, open_results
from hts.synth import SyntheticPlate
from hts.testing import assert_qc_flags_decode, assert_results_complete


@dataclass
class Night:
    summary: NightlySummary
    flow_run_id: UUID
    results: xr.Dataset


@dataclass
class Nights:
    source: Path
    plate: Path
    first: Night
    second: Night


def _night(
    source: Path, plate: Path, synthetic: SyntheticPlate, scheduler: str, **kw: Any
) -> Night:
    state = nightly_screen(
        source=str(source),
        plate=str(plate),
        plate_map=str(synthetic.plate_map_csv),
        model="classical",
        cluster=ClusterConfig(scheduler=scheduler),
        return_state=True,
        **kw,
    )
    assert state.is_completed(), state.message
    summary = state.result()
    return Night(
        summary, state.state_details.flow_run_id, open_results(summary.run.results_path).load()
    )


@pytest.fixture(scope="module")
def nights(
    tmp_path_factory: pytest.TempPathFactory,
    synthetic: SyntheticPlate,
    scheduler: str,
    images_of_days: Any,
) -> Nights:
    base = tmp_path_factory.mktemp("nightly")
    source, plate = base / "incoming", base / "SYN01.zarr"
    images_of_days(synthetic, (0, 1), source)
    first = _night(source, plate, synthetic, scheduler)
    images_of_days(synthetic, (2,), source)  # the microscope writes one more day
    second = _night(source, plate, synthetic, scheduler)
    return Nights(source, plate, first, second)


def test_first_night_ingests_and_segments_everything(nights: Nights) -> None:
    s = nights.first.summary
    assert (s.n_files_seen, s.n_new_images, s.n_skipped_files) == (8, 8, 0)
    assert s.run.counts == {"ok": 8} and s.n_processed == 8
    assert nights.first.results.sizes == {"well": 4, "timepoint": 2}
    assert (nights.first.results.status.values == Status.OK).all()
    assert_results_complete(nights.first.results, n_ok=8)
    assert s.run.results_path == str(nights.plate.with_name("SYN01.results.zarr"))


def test_next_night_processes_exactly_the_new_images(nights: Nights) -> None:
    s = nights.second.summary
    assert (s.n_files_seen, s.n_new_images) == (12, 4)
    assert s.run.counts == {"ok": 4}  # the four day-2 images, nothing else
    ds = nights.second.results
    assert ds.sizes == {"well": 4, "timepoint": 3}
    np.testing.assert_allclose(ds.day.values, [0.0, 1.0, 2.0])
    assert (ds.status.values == Status.OK).all()
    # the earlier time points are left as they were
    before = nights.first.results
    np.testing.assert_array_equal(ds.diameter_um.values[:, :2], before.diameter_um.values)
    assert s.figures.n_timepoints == 3 and s.figures.last_day == 2.0
    assert s.figures.status["ok"] == 12


def test_figures_count_qc_flags_of_measured_images(nights: Nights) -> None:
    s, ds = nights.second.summary, nights.second.results
    flags = ds.qc_flags.values.astype(int)
    assert s.figures.n_flagged == int((flags != 0).sum())
    assert s.figures.qc_flags["touches_border"] == int(((flags >> 2) & 1).sum())
    measured = ds.status.values == Status.OK
    for name, flagged in assert_qc_flags_decode(ds).items():  # as a CF-aware reader sees them
        assert s.figures.qc_flags[name] == int((flagged & measured).sum()), name
    assert {a.arm for a in s.figures.arms} == set(ds.arm.values.tolist())
    assert sum(a.n_spheroids for a in s.figures.arms) == 4


def test_endpoints_and_html_report_when_installed(nights: Nights) -> None:
    pytest.importorskip("scipy")
    s = nights.second.summary
    assert s.endpoints is not None and not s.report_errors
    assert {t.title for t in s.endpoints} >= {"per arm_name", "plate", "per spheroid"}
    assert s.report_html is not None and Path(s.report_html).stat().st_size > 0


def test_one_task_per_step_never_per_image(nights: Nights, prefect_api: Any) -> None:
    runs = prefect_api.task_runs(nights.second.flow_run_id)
    names = sorted(r.task_key.rsplit("-", 1)[0] for r in runs)
    assert names.count("segment_plate") == 1 and names.count("ingest_new_images") == 1
    assert len(runs) == 6, names
    assert all(r.state.is_completed() for r in runs)
    assert prefect_api.flow_run(nights.second.flow_run_id).state.is_completed()


def test_artifact_carries_the_key_figures(nights: Nights, prefect_api: Any) -> None:
    text = prefect_api.markdown(artifact_key("nightly", "SYN01"), nights.second.flow_run_id)
    assert "| new images ingested | 4 |" in text
    assert "| images processed | 4 |" in text
    assert " to do because: new | 4 |" in text  # the night's new time point
    assert "| images failed | 0 |" in text
    assert "| touches_border |" in text and "| ok | 12 |" in text
    flagged = nights.second.summary.run.n_flagged
    assert f"| measured images flagged by QC | {flagged} |" in text  # this run's QC counts


def test_a_night_without_new_images_does_nothing(
    nights: Nights, synthetic: SyntheticPlate, scheduler: str
) -> None:
    third = _night(nights.source, nights.plate, synthetic, scheduler)
    assert third.summary.n_new_images == 0 and third.summary.n_processed == 0
    xr.testing.assert_equal(third.results, nights.second.results)  # attrs: updated_at


def test_a_failing_report_step_fails_the_run_after_publishing(
    nights: Nights, synthetic: SyntheticPlate, scheduler: str, prefect_api: Any
) -> None:
    pytest.importorskip("scipy")
    state = nightly_screen(
        source=str(nights.source),
        plate=str(nights.plate),
        plate_map=str(synthetic.plate_map_csv),
        model="classical",
        cluster=ClusterConfig(scheduler=scheduler),
        endpoint_params={"relapse_factor": 0.5},  # invalid: must exceed 1
        return_state=True,
    )
    assert state.is_failed()
    assert "relapse_factor" in str(state.result(raise_on_failure=False))
    text = prefect_api.markdown(artifact_key("nightly", "SYN01"), state.state_details.flow_run_id)
    assert "endpoints failed: ValueError" in text
    assert "| ok | 12 |" in text  # the measurements are published all the same
