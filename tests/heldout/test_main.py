import csv
import subprocess
import sys
from pathlib import Path

import pytest

from hts.heldout.__main__ import main


def test_command_line_writes_a_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    rc = main(
        [
            str(out),
            "--per-category",
            "1",
            "--seed",
            "2",
            "--categories",
            "clean,inverted",
            "--shape",
            "160x200",
        ]
    )
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out / "index.csv")
    with (out / "index.csv").open(newline="") as fh:
        assert [r["category"] for r in csv.DictReader(fh)] == ["clean", "inverted"]
    assert main([str(out), "--categories", "bubbles"]) == 2
    with pytest.raises(SystemExit):
        main([str(out), "--shape", "big"])


def test_hts_evaluate_runs_on_the_set(tmp_path: Path) -> None:
    out = tmp_path / "set"
    assert (
        main(
            [
                str(out),
                "--per-category",
                "1",
                "--categories",
                "clean,touching,whole_well",
                "--shape",
                "192x256",
            ]
        )
        == 0
    )
    run = subprocess.run(
        [sys.executable, "-m", "hts.cli.main", "--quiet", "evaluate", "--images", str(out / "images"),
         "--masks", str(out / "masks"), "--model", "classical"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "category touching" in run.stdout and "category whole_well" in run.stdout
