"""docs/analysis.md: its recipes run against a real results store; its parameter table
matches the code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from hts.analysis import EndpointParams
from hts.measure.qc import QC_BITS

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_recipes_run(segmented_plate, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, results_path = segmented_plate
    blocks = _python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"results_path": results_path}
    for k, block in enumerate(blocks):
        try:
            exec(compile(block, f"{DOC.name} block {k + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"recipe {k + 1} of {DOC} failed:\n{block}") from exc
    assert "relapsed under the stricter rule" in capsys.readouterr().out


def test_parameter_table_matches_the_defaults() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", text, flags=re.M))
    fields = {f.name: f.default for f in dataclasses.fields(EndpointParams)}
    assert set(rows) == set(fields)
    for name, default in fields.items():
        if name == "exclude_flags":
            assert default == tuple(k for k in QC_BITS if k != "multiple_objects")
            assert rows[name] == "all QC flags but `multiple_objects`"
        else:
            assert rows[name] == repr(default).replace("'", '"'), name
