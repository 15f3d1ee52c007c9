"""``python -m flows``: one run of a flow from the shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.__main__ import main
from hts.testing import write_disk_plate


def test_nightly_then_reprocess_from_the_shell(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_disk_plate(tmp_path / "images")
    plate = tmp_path / "TEST01.zarr"
    common = ["--model", "classical", "--scheduler", scheduler]
    assert main(["nightly", "--source", str(tmp_path / "images"), "--plate", str(plate),
                 "--plate-map", str(tmp_path / "images_plate_map.csv"), *common]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("# Nightly screen: plate TEST01")
    assert "| new images ingested | 9 |" in out
    assert main(["reprocess", "--plates", str(plate), "--force", *common]) == 0
    assert "1 plates done, 0 failed; 9 images processed" in capsys.readouterr().out


def test_a_flow_must_be_named() -> None:
    with pytest.raises(SystemExit):
        main([])


@pytest.mark.slow  # 31 s: a Prefect server of its own; .ci/run runs it
def test_a_nightly_run_from_the_shell_prints_no_warning_traceback_or_dask_log(
    tmp_path: Path,
) -> None:
    """As a user runs it: a temporary Prefect server, a local cluster, the HTML report."""
    import os
    import subprocess
    import sys

    write_disk_plate(tmp_path / "images")
    user_chosen = (
        "DASK_LOGGING__DISTRIBUTED", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_LOGGING_LEVEL"
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in user_chosen}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # its own temporary server
    done = subprocess.run(
        [sys.executable, "-m", "flows", "nightly", "--source", str(tmp_path / "images"),
         "--plate", str(tmp_path / "TEST01.zarr"), "--plate-map",
         str(tmp_path / "images_plate_map.csv"), "--model", "classical", "--workers", "1"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Nightly screen: plate TEST01")
    for noise in ("Traceback", "Warning", "WARNING", "ERROR", "distributed.", "8787"):
        assert noise not in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) < 30, done.stderr  # Prefect's own run log


def test_a_folder_the_presets_do_not_know_goes_through_with_a_pattern_or_a_manifest(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_disk_plate(tmp_path / "incucyte", plate_map=False)
    odd = tmp_path / "odd"
    odd.mkdir()
    rows = ["path,well,days"]
    for (well, day), path in files.items():
        path.rename(odd / f"scan-{well}-day{day}.tif")
        rows.append(f"scan-{well}-day{day}.tif,{well},{day}")
    manifest = tmp_path / "files.csv"
    manifest.write_text("\n".join(rows) + "\n")
    common = ["--model", "classical", "--scheduler", scheduler, "--source", str(odd)]
    pattern = r"scan-(?P<well>[A-P]\d+)-day(?P<days>\d+)\.tif"
    for option in (["--pattern", pattern], ["--manifest", str(manifest)]):
        plate = tmp_path / f"{option[0].strip('-')}.zarr"
        assert main(["nightly", "--plate", str(plate), *option, *common]) == 0
        out = capsys.readouterr().out
        assert "| new images ingested | 9 |" in out and "| images processed | 9 |" in out
    with pytest.raises(SystemExit):  # one or the other
        main(["nightly", "--plate", str(plate), "--pattern", pattern, "--manifest", "x.csv",
              *common])  # fmt: skip
