"""``import hts.engines`` stays light: no torch, onnx, onnxruntime or tensorrt until used."""

from __future__ import annotations

import subprocess
import sys

import hts.engines


def test_public_names_resolve() -> None:
    assert all(hasattr(hts.engines, name) for name in hts.engines.__all__)


def test_importing_engines_loads_no_heavy_library() -> None:
    code = (
        "import sys, hts.engines; "
        "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'tensorrt') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
