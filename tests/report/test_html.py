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


def _plate(base: Path, threads, *, days: tuple[int, ...], plate_map: bool, **kw) -> Path:
    """A disk plate (three wells) ingested and segmented (classical): its results store."""
    from hts.distributed.ingest import ingest
    from hts.distributed.run import run_plate
    from hts.io import IngestOptions
    from hts.testing import write_disk_plate

    write_disk_plate(base / "images", days=days, plate_map=plate_map, **kw)
    options = IngestOptions(plate_map=base / "images_plate_map.csv" if plate_map else None)
    ingest(base / "images", base / "P.zarr", options=options, cluster=threads)
    run_plate(base / "P.zarr", base / "R.zarr", segmenter="classical", cluster=threads)
    return base / "R.zarr"


def _visible_text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"data:image/png;base64,[^\"]+", "", page))


@pytest.mark.parametrize(
    ("days", "plate_map", "why"),
    [
        ((0,), True, "the plate has one time point"),
        ((0, 1, 2), False, "the time since treatment is unknown"),
    ],
    ids=["one-time-point", "unknown-times"],
)
def test_panels_without_data_say_why_and_nothing_reads_nan(
    tmp_path: Path, threads, days: tuple[int, ...], plate_map: bool, why: str
) -> None:
    import warnings

    # disks wider than the image: flagged (no_object), so the montage and the table list them
    results = _plate(tmp_path, threads, days=days, plate_map=plate_map, radius_px=52.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = write_report(results, tmp_path / "report.html")
    assert not [str(w.message) for w in caught]  # e.g. matplotlib's "No artists ... legend"
    text = _visible_text(out.read_text(encoding="utf-8"))
    assert not re.search(r"\bd?nan\b|\bd0\.\d{3,}|– to –|–\s+\(|\bcontrolled\b", text), text
    for panel in ("growth curves", "relapse-free curves", "dose-response"):
        assert f"No {panel}: {why}" in text
    assert f"not estimated: {why}" in text and f"No endpoints: {why}" in text
    figures = {p.stem for p in tmp_path.joinpath("report_figures").iterdir()}
    assert figures == {"qc_flags", "flagged_montage"}  # no empty axes
    assert re.search(r"dose \(Gy\)", text) or not plate_map  # units shown for dose
    flagged_days = re.findall(r"B02\s+(\S+)\s+no_object", text)  # well, day, flags
    assert flagged_days and set(flagged_days) <= ({"0.0"} if plate_map else {"unknown"})


def test_montage_captions_keep_every_flag_name(tmp_path: Path, threads) -> None:
    from hts.report.montage import flagged_montage
    from hts.results import open_results

    results = _plate(tmp_path, threads, days=(0, 1), plate_map=False, radius_px=52.0)
    montage = flagged_montage(open_results(results), tmp_path / "P.zarr")
    assert len(montage.labels) == 6 and all(
        re.fullmatch(r"[BC]0[23] time point [01]\nno_object", lab) for lab in montage.labels
    ), montage.labels


def _without_timestamp(page: str) -> str:
    return re.sub(r"generated</td><td>[^<]*", "generated</td><td>", page)


def test_the_report_renders_the_endpoints_it_is_given(segmented_plate, tmp_path: Path) -> None:
    """Curves and endpoints the caller computed are used as they are, not computed again."""
    from hts.analysis import compute_endpoints, growth_curves
    from hts.results import open_results

    _, plate, results = segmented_plate
    params = EndpointParams(relapse_factor=2.5)
    ds = open_results(results).drop_vars("contour").load()
    curves = growth_curves(ds, params=params)
    endpoints = compute_endpoints(ds, params=params)
    given = write_report(
        results, tmp_path / "given.html", curves=curves, endpoints=endpoints, plate_path=plate
    )
    computed = write_report(results, tmp_path / "computed.html", params=params, plate_path=plate)
    assert _without_timestamp(given.read_text(encoding="utf-8")) == _without_timestamp(
        computed.read_text(encoding="utf-8")
    )
    # the parameters come with the endpoints
    assert '<td class="text">relapse_factor</td><td>2.5</td>' in given.read_text(encoding="utf-8")
    marked = endpoints.assign(scd50=endpoints.scd50 * 0 + 4.321)
    text = write_report(results, tmp_path / "marked.html", endpoints=marked).read_text("utf-8")
    assert "4.32 Gy" in text
    with pytest.raises(ValueError, match="other parameters"):
        write_report(results, tmp_path / "x.html", params=EndpointParams(), endpoints=endpoints)


def test_render_report_returns_the_page_and_figures(segmented_plate, tmp_path: Path) -> None:
    """Nothing is written: the caller decides where the page and figures go."""
    from hts.analysis import compute_endpoints, flagged_images, growth_curves
    from hts.report.html import render_report
    from hts.results import open_results, results_figures

    _, _, results = segmented_plate
    ds = open_results(results).drop_vars("contour").load()
    params = EndpointParams()
    report = render_report(
        ds, growth_curves(ds, params=params), compute_endpoints(ds, params=params),
        results_figures(ds), params=params, flagged=flagged_images(ds), montage=None,
        montage_note="no montage here", results_name="R.zarr", title="the title",
    )  # fmt: skip
    assert set(report.pngs) == set(FIGURES) - {"flagged_montage"}
    assert all(png[:4] == b"\x89PNG" for png in report.pngs.values())
    assert "<title>the title</title>" in report.html and "no montage here" in report.html
    assert '<td class="text">results</td><td>R.zarr</td>' in report.html
    assert report.html.count("data:image/png;base64,") == len(report.pngs)
    assert not list(tmp_path.iterdir())
