"""Cache files: content hashes, the cache directory, atomic writes, the node-wide lock."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from pathlib import Path

import pytest

from hts.engines.cache import (
    atomic_write_bytes,
    exclusive_lock,
    file_digest,
    resolve_cache_dir,
)
from hts.engines.settings import CACHE_DIR_ENV


def test_file_digest_is_the_start_of_sha256(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    path.write_bytes(b"weights" * 1000)
    assert file_digest(path) == hashlib.sha256(b"weights" * 1000).hexdigest()[:16]
    assert len(file_digest(path, length=8)) == 8


def test_cache_dir_is_explicit_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))
    assert resolve_cache_dir() == tmp_path / "from-env"
    assert resolve_cache_dir(tmp_path / "explicit" / "deep") == tmp_path / "explicit" / "deep"
    assert (tmp_path / "from-env").is_dir() and (tmp_path / "explicit" / "deep").is_dir()
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_cache_dir() == tmp_path / "home" / ".cache" / "hts"


def test_atomic_write_replaces_whole_files_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "engine.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, memoryview(b"new content"))
    assert path.read_bytes() == b"new content"
    assert path.stat().st_mode & 0o777 == 0o644
    with pytest.raises(TypeError):
        atomic_write_bytes(path, 42)  # type: ignore[arg-type]  # fails mid-write
    assert path.read_bytes() == b"new content"
    assert sorted(p.name for p in path.parent.iterdir()) == ["engine.bin"]  # no temporaries


def test_exclusive_lock_lets_one_holder_in_at_a_time(tmp_path: Path) -> None:
    lock = tmp_path / "job.lock"
    spans: list[tuple[float, float]] = []

    def hold() -> None:
        with exclusive_lock(lock):
            start = time.monotonic()
            time.sleep(0.05)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans.sort()
    assert len(spans) == 3
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
