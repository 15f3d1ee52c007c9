"""The HTML report: self-contained, with every section and figure."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from hts.analysis import EndpointParams
from hts.report import write_report

FIGURES = ("growth_curves", "kaplan_meier", "scp_dose_response", "qc_flags", "flagged_montage")


@pytest.fixture(scope="module")
def report(segmented_plate, tmp_path_factory) -> Path:
    _, _, results = segmented_plate
    out = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(results, out)


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text
    # every resource is inline: no src/href/url() points anywhere but data: URIs
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", text) + re.findall(
        r"url\(([^)]+)\)", text
    )
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs), refs[:3]
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == len(FIGURES)
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    for heading in ("Growth curves", "Kaplan-Meier", "Spheroid control probability",
                    "Quality control", "Flagged images", "Parameters", "SCD50"):  # fmt: skip
        assert heading in text


def test_figures_are_also_png_files(report: Path) -> None:
    folder = report.with_name("report_figures")
    for name in FIGURES:
        assert (folder / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_parameters_reach_the_report(segmented_plate, tmp_path: Path) -> None:
    _, _, results = segmented_plate
    out = write_report(
        results, tmp_path / "r.html", params=EndpointParams(relapse_factor=3.5),
        figures_dir=tmp_path / "figs", plate_path=tmp_path / "nowhere.zarr",
    )  # fmt: skip
    text = out.read_text(encoding="utf-8")
    assert '<td class="text">relapse_factor</td><td>3.5</td>' in text
    assert "not found: montage left out" in text
    assert not (tmp_path / "figs" / "flagged_montage.png").exists()
    assert (tmp_path / "figs" / "growth_curves.png").exists()
