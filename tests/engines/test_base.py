"""The engine registry and the batch contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hts.engines import (
    THREADS_ENV,
    available_engines,
    check_batch,
    engine_threads,
    get_engine,
)


def test_all_engines_are_registered() -> None:
    assert {"torch", "onnxruntime", "tensorrt"} <= set(available_engines())
    with pytest.raises(ValueError, match="unknown engine"):
        get_engine("no-such-engine", Path("w.pt"))


def test_check_batch_accepts_only_uint8_stacks() -> None:
    batch = np.zeros((2, 64, 96), np.uint8)[:, :, ::2]  # a non-contiguous view
    checked = check_batch(batch)
    assert checked.flags.c_contiguous and checked.shape == (2, 64, 48)
    for bad in (np.zeros((64, 64), np.uint8), np.zeros((1, 64, 64), np.uint16)):
        with pytest.raises(ValueError, match="uint8 batch"):
            check_batch(bad)


def test_engine_threads_explicit_then_hts_then_omp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert engine_threads() is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Dask's nanny sets in every worker
    assert engine_threads() == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert engine_threads() == 3
    assert engine_threads(2) == 2
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ValueError, match=THREADS_ENV):
        engine_threads()
    with pytest.raises(ValueError, match="threads"):
        engine_threads(0)
