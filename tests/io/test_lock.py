"""The one-writer lock with real processes: paths spelled differently, concurrent take-overs."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hts.io.lock import StoreLock, StoreLocked, lock_path


def _dead_pid() -> int:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    return int(gone.stdout)


def test_a_symlinked_or_differently_spelled_path_takes_the_same_lock(tmp_path: Path) -> None:
    real = tmp_path / "plates" / "plate.zarr"
    real.mkdir(parents=True)
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    (tmp_path / "dirlink").symlink_to(tmp_path / "plates")
    spellings = [
        link,
        tmp_path / "dirlink" / "plate.zarr",
        tmp_path / "plates" / ".." / "plates" / "plate.zarr",
        Path(os.path.relpath(real)),
    ]
    with StoreLock(real):
        for other in spellings:
            assert lock_path(other) == lock_path(real)
            with pytest.raises(StoreLocked, match="being written by another run"):
                StoreLock(other).acquire()
    with StoreLock(link):  # released: free again under any spelling
        assert lock_path(real).exists()
    assert not lock_path(real).exists()


def _contender(store: str, start: float, hold_s: float, queue: multiprocessing.Queue) -> None:
    time.sleep(max(0.0, start - time.time()))
    try:
        lock = StoreLock(store)
        lock.acquire()
    except StoreLocked:
        queue.put(("refused", os.getpid(), time.monotonic(), 0.0))
        return
    got = time.monotonic()
    time.sleep(hold_s)  # hold it: a second holder would overlap this interval
    still = lock._holder().get("pid") == os.getpid()
    lock.release()
    queue.put(("held" if still else "lost", os.getpid(), got, time.monotonic()))


def test_concurrent_take_over_of_a_stale_lock_has_one_holder(tmp_path: Path) -> None:
    """Processes that find a dead run's lock at once: exactly one takes it over."""
    ctx = multiprocessing.get_context("fork")
    store = tmp_path / "r.zarr"
    dead = _dead_pid()
    trials, n_proc = 12, 6
    overlaps = []
    for trial in range(trials):
        lock_path(store).write_text(
            json.dumps({"host": socket.gethostname(), "pid": dead, "started": "then"})
        )
        queue: multiprocessing.Queue = ctx.Queue()
        start = time.time() + 0.3
        procs = [
            ctx.Process(target=_contender, args=(str(store), start, 0.4, queue))
            for _ in range(n_proc)
        ]
        for p in procs:
            p.start()
        results = [queue.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        holders = [r for r in results if r[0] != "refused"]
        assert holders, f"trial {trial}: nobody took over the stale lock"
        # holders whose holding intervals overlap held the store at the same time
        holders.sort(key=lambda r: r[2])
        overlapping = sum(1 for a, b in itertools.pairwise(holders) if b[2] < a[3])
        if overlapping or any(r[0] == "lost" for r in holders):
            overlaps.append((trial, [r[0] for r in results]))
        assert not lock_path(store).exists()
    assert not overlaps, f"more than one holder at once in trials {overlaps}"


def test_the_lock_file_names_its_holder_and_goes_with_it(tmp_path: Path) -> None:
    store = tmp_path / "r.zarr"
    assert lock_path(store) == tmp_path / "r.zarr.lock"  # beside the store, not inside it
    with pytest.raises(RuntimeError, match="boom"), StoreLock(store) as lock:
        holder = json.loads(lock_path(store).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        assert lock.path == lock_path(store)
        raise RuntimeError("boom")
    assert not lock_path(store).exists()  # released on an error too
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left


def test_a_live_holder_is_named_and_kept(tmp_path: Path) -> None:
    store = tmp_path / "r.zarr"
    other = {"host": socket.gethostname(), "pid": os.getppid(), "started": "then", "command": "x"}
    lock_path(store).write_text(json.dumps(other))
    with pytest.raises(StoreLocked, match=rf"pid {os.getppid()} on .*: x\)\. Wait"):
        StoreLock(store).acquire()
    StoreLock(store).release()  # not ours: left alone
    assert json.loads(lock_path(store).read_text()) == other


def test_a_dead_run_on_this_host_is_taken_over_one_elsewhere_is_not(tmp_path: Path) -> None:
    store = tmp_path / "r.zarr"
    dead = {"host": socket.gethostname(), "pid": _dead_pid(), "started": "then"}
    lock_path(store).write_text(json.dumps(dead))
    with StoreLock(store):
        assert json.loads(lock_path(store).read_text())["pid"] == os.getpid()
    elsewhere = {**dead, "host": "another-host.invalid"}  # its pid says nothing here
    lock_path(store).write_text(json.dumps(elsewhere))
    with pytest.raises(StoreLocked, match=r"another-host\.invalid"):
        StoreLock(store).acquire()
