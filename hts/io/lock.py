"""One writer per store (a plate being ingested, a results store being filled): a lock
file that names its holder.

The lock is a file created with O_EXCL beside the store (``r.zarr`` -> ``r.zarr.lock``;
inside it, Zarr would warn about an unknown object whenever the store is opened during a
run). It records host, process id and
start time, so a second run can say who holds it; a lock left by a process that no longer
exists on this host (a killed run) is taken over, so a re-run resumes without manual steps.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

__all__ = ["StoreLock", "StoreLocked", "lock_path"]

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


def lock_path(store: Path | str) -> Path:
    """The lock file of the store at ``store``."""
    store = Path(store)
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

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                pid = holder.get("pid")
                same_host = holder.get("host") == self.me["host"]
                if same_host and isinstance(pid, int) and not _alive(pid):
                    log.warning("taking over the lock of a run that no longer exists: %s", holder)
                    self.path.unlink(missing_ok=True)
                    continue
                raise StoreLocked(
                    f"{self.store} is being written by another run (pid {pid} on "
                    f"{holder.get('host')}, since {holder.get('started')}: {holder.get('command')}). "
                    f"Wait for it to finish; if that run is dead, delete {self.path}"
                ) from None
            with os.fdopen(fd, "w") as fh:
                json.dump(self.me, fh)
            return
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
