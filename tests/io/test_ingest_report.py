"""The ingest report's records: counts by kind of problem, completeness, JSON and summary."""

from __future__ import annotations

import json

from hts.io.ingest_report import IngestReport, Problem, ProblemKind


def _report(*problems: Problem) -> IngestReport:
    return IngestReport(
        plate="P1", source="/in", pattern="auto", started_at="t0", finished_at="t1",
        n_files=5, n_new=3, n_unchanged=1, problems=problems,
    )  # fmt: skip


def test_a_report_without_skipped_changed_or_damaged_files_is_complete() -> None:
    report = _report(
        Problem("a.txt", ProblemKind.IGNORED, "not an image"),
        Problem("b.tif", ProblemKind.WARNING, "well not in the plate map"),
    )
    assert report.complete and (report.n_skipped, report.n_changed) == (0, 0)
    for kind in (ProblemKind.SKIPPED, ProblemKind.CHANGED, ProblemKind.DAMAGED):
        assert not _report(Problem("c.tif", kind, "why")).complete


def test_counts_json_and_summary_name_every_kind() -> None:
    report = _report(
        Problem("c.tif", ProblemKind.SKIPPED, "truncated"),
        Problem("d.tif", ProblemKind.SKIPPED, "bad name"),
        Problem("e.tif", ProblemKind.CHANGED, "content changed"),
    )
    assert (report.n_skipped, report.n_changed, report.count(ProblemKind.DAMAGED)) == (2, 1, 0)
    data = json.loads(json.dumps(report.to_json()))
    assert data["counts"] == {"skipped": 2, "changed": 1}
    assert data["problems"][0] == {"path": "c.tif", "kind": "skipped", "reason": "truncated"}
    assert report.summary().splitlines() == [
        "plate P1: 5 files seen, 3 new images ingested, 1 already ingested",
        "1 changed, 2 skipped",
    ]
