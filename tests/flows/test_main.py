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
