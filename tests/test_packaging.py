"""The project's own metadata: it installs without warnings (``make demo`` shows pip's)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_gives_setuptools_no_deprecation_warning() -> None:
    """``project.license`` as a table made pip print a deprecation warning on install."""
    pytest.importorskip("setuptools")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert not [str(w.message) for w in caught]
    assert dist.metadata.license_expression == "MIT"
