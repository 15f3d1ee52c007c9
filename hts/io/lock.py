"""One writer per store (a plate being ingested, a results store being filled): a lock
file that names its holder.

The lock is a file created with O_EXCL beside the store (``r.zarr`` -> ``r.zarr.lock``;
inside it, Zarr would warn about an unknown object whenever the store is opened during a
run). It records host, process id and
start time, so a second run can say who holds it; a lock left by a process that no longer
exists on this host (a killed run) is taken over, so a re-run resumes without manual steps.

The lock is named after the store's resolved path, so a symlink or another spelling of the
same store takes the same lock. A lock file appears complete (written aside, then hard-linked
into place, which fails if one exists). Taking over a stale lock holds an exclusive
``flock`` on that lock file while checking it is still the same, still stale file and
removing it: of several processes that find the same dead run's lock at once, one removes
it and the others then see the new holder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

__all__ = ["StoreLock", "StoreLocked", "lock_path"]

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


def lock_path(store: Path | str) -> Path:
    """The lock file of the store at ``store`` (any spelling: the path is resolved)."""
    store = Path(store).resolve()
    return store.with_name(store.name + LOCK_SUFFIX)


class StoreLocked(RuntimeError):
    """Another run is writing this store."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreLock:
    """``with StoreLock(store_path): ...`` holds the store for this process."""

    def __init__(self, store: Path | str) -> None:
        self.store = Path(store)
        self.path = lock_path(store)
        self.me = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv)[:300],
        }

    def _holder(self) -> dict[str, object]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return {}

    def _stale(self, holder: dict[str, object]) -> bool:
        pid = holder.get("pid")
        same_host = holder.get("host") == self.me["host"]
        return same_host and isinstance(pid, int) and not _alive(pid)

    def _create(self) -> bool:
        """Put a complete lock file in place; False if one exists."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(json.dumps(self.me))
        try:
            os.link(tmp, self.path)  # atomic, and fails if the lock exists
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def _take_over_stale(self) -> bool:
        """Remove the lock file if it is (still) a dead run's; True if it was removed."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return True  # gone meanwhile: try to create it again
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one taker at a time for this lock file
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                return True  # another taker removed it
            if not same:
                return True  # replaced by a new holder: look again
            holder = self._holder()
            if not self._stale(holder):
                return False
            log.warning("taking over the lock of a run that no longer exists: %s", holder)
            self.path.unlink()
            return True
        finally:
            os.close(fd)  # releases the flock

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if self._create():
                return
            holder = self._holder()
            if not holder and not self.path.exists():
                continue  # released meanwhile
            if self._stale(holder) and self._take_over_stale():
                continue
            holder = self._holder() or holder
            raise StoreLocked(
                f"{self.store} is being written by another run (pid {holder.get('pid')} on "
                f"{holder.get('host')}, since {holder.get('started')}: {holder.get('command')}). "
                f"Wait for it to finish; if that run is dead, delete {self.path}"
            )
        raise StoreLocked(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self._holder().get("pid") == self.me["pid"]:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
