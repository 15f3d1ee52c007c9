"""The ``hts`` command line, run as a user would."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hts.cli.main import EXIT_INCOMPLETE, main


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, hts, hts.cli.main as m\n"
        "names = ('zarr', 'dask', 'distributed', 'xarray', 'torch', 'onnxruntime', 'cv2')\n"
        "heavy = [k for k in names if k in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run(
        [sys.executable, "-m", "hts.cli.main", "--help"], check=True, capture_output=True, text=True
    )
    for command in ("synth", "ingest", "run", "demo", "report", "export"):
        assert command in out.stdout


def test_ingest_then_run(
    disk_folder: Path, plate_map: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plate = tmp_path / "P.zarr"
    assert (
        main(
            [
                "-q",
                "ingest",
                str(disk_folder),
                "--out",
                str(plate),
                "--plate-map",
                str(plate_map),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert "9 new images" in capsys.readouterr().out
    assert main(["-q", "run", str(plate), "--model", "classical", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "9 ok" in out and (tmp_path / "P.results.zarr").exists()


def test_skipped_files_set_the_exit_status(
    disk_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (disk_folder / "TEST01_B9_1_2026y03m02d_09h30m.tif").write_bytes(b"not a tiff")
    report = tmp_path / "report.json"
    status = main(
        [
            "-q",
            "ingest",
            str(disk_folder),
            "--out",
            str(tmp_path / "P.zarr"),
            "--report",
            str(report),
        ]
    )
    assert status == EXIT_INCOMPLETE
    out = capsys.readouterr().out
    assert "skipped  TEST01_B9_1_2026y03m02d_09h30m.tif" in out
    assert '"kind": "skipped"' in report.read_text()


def test_errors_name_the_problem_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path / "nowhere"), "--out", str(tmp_path / "P.zarr")]) == 1
    err = capsys.readouterr().err
    assert "nowhere" in err and "does not exist" in err and "Traceback" not in err
    assert main(["run", str(tmp_path / "missing.zarr")]) == 1
    assert "not a Zarr store" in capsys.readouterr().err


def test_report_and_export(
    segmented_plate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    _, _, results = segmented_plate
    html = tmp_path / "out" / "report.html"
    assert main(["-q", "report", str(results), "--out", str(html), "--relapse-factor", "2.5"]) == 0
    assert f"report: {html}" in capsys.readouterr().out
    text = html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "<td>2.5</td>" in text
    assert (tmp_path / "out" / "report_figures" / "kaplan_meier.png").exists()
    for suffix in (".csv", ".parquet"):
        table = tmp_path / f"table{suffix}"
        assert main(["-q", "export", str(results), "--out", str(table)]) == 0
        frame = pd.read_csv(table) if suffix == ".csv" else pd.read_parquet(table)
        assert len(frame) == 20 * 8 and "flag_touches_border" in frame
    assert main(["export", str(results), "--out", str(tmp_path / "t.xlsx")]) == 1
    assert "unknown table format" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.zarr"), "--out", str(html)]) == 1
    assert "no results store" in capsys.readouterr().err


def test_analysis_and_report_import_no_plotting_or_fitting_library() -> None:
    code = (
        "import sys, hts.analysis, hts.report, hts.results.export\n"
        "heavy = [k for k in ('matplotlib', 'lifelines', 'scipy', 'pyarrow', 'prefect') if k in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_demo_runs_end_to_end_and_writes_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    demo = tmp_path / "demo"
    argv = ["-q", "demo", "--dir", str(demo), "--wells", "4", "--days", "3"]
    assert main([*argv, "--model", "classical", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "12 ok" in out and "report:" in out
    html = (demo / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html


def test_demo_prints_no_warning_and_no_traceback(tmp_path: Path) -> None:
    """As a user runs it from a shell, with another Dask dashboard (or Jupyter) on port 8787:
    Dask warned 'Port 8787 is already in use' on every command, even with -q."""
    import os
    import socket

    pytest.importorskip("matplotlib")
    taken = socket.socket()
    try:
        taken.bind(("", 8787))
        taken.listen()
    except OSError:
        pass  # already taken by something else: the same situation
    env = {k: v for k, v in os.environ.items() if k != "DASK_LOGGING__DISTRIBUTED"}
    command = [sys.executable, "-m", "hts.cli.main", "-q", "demo", "--dir", str(tmp_path / "d"),
               "--wells", "4", "--days", "3", "--model", "classical", "--workers", "1"]  # fmt: skip
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    finally:
        taken.close()
    assert done.returncode == 0, done.stderr
    assert "report:" in done.stdout
    for noise in ("Traceback", "Warning", "WARNING", "8787"):
        assert noise not in done.stdout + done.stderr, done.stdout + done.stderr


def test_run_counts_qc_flags_and_warns_when_most_images_are_flagged(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Disks larger than the image: the classical segmenter finds none. The summary said
    only "9 ok"."""
    from hts.testing import write_disk_plate

    write_disk_plate(tmp_path / "images", radius_px=70.0)
    plate = tmp_path / "P.zarr"
    assert main(["-q", "ingest", str(tmp_path / "images"), "--out", str(plate)]) == 0
    capfd.readouterr()
    assert main(["-q", "run", str(plate), "--model", "classical", "--workers", "1"]) == 0
    out = capfd.readouterr().out
    assert "9 ok" in out and "QC: 9 of 9 measured images flagged (no_object 9)" in out
    warned = [r for r in caplog.records if r.levelname == "WARNING"]  # on stderr, in a shell
    assert (
        len(warned) == 1
        and "most images were flagged by QC as doubtful (9 of 9): this model may not "
        "suit these images; check a few with `hts evaluate`"
        in warned[0].getMessage()
    )


def test_verbose_says_which_engine_ran(
    disk_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("segmentation_models_pytorch")
    from hts.models import ModelConfig, build_model, save_weights

    weights = save_weights(
        build_model(), tmp_path / "tiny.pt", config=ModelConfig(), model_id="tiny"
    )
    plate = tmp_path / "P.zarr"
    assert main(["-q", "ingest", str(disk_folder), "--out", str(plate)]) == 0
    # a handler of its own: while a local cluster runs, Dask sets the stream handlers of the
    # "distributed" logger (which, in a test session, can be pytest's capturing ones) to
    # WARNING, and caplog would miss what is logged meanwhile
    caplog.set_level("INFO")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("hts.distributed.run")
    logger.addHandler(handler)
    try:
        run = ["-v", "-q", "run", str(plate), "--model", str(weights), "--engine", "torch"]
        assert main([*run, "--workers", "1"]) == 0
    finally:
        logger.removeHandler(handler)
    said = [r.getMessage() for r in records]
    assert any(re.search(r"worker tcp://\S+ runs tiny on torch-cpu-\w+", m) for m in said), said


def test_every_option_says_what_it_means_and_its_default() -> None:
    import argparse

    from hts.cli.main import _build_parser

    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        formatter = command._get_formatter()
        for action in command._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if "-h" in action.option_strings:
                continue
            text = formatter._expand_help(action) if action.help else ""
            assert text.strip(), f"hts {name} {action.option_strings[0]}: no help"
            if action.default is not None and action.default is not False:
                assert "default" in text, f"hts {name} {action.option_strings[0]}: {text!r}"
