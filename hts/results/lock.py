"""One writer per results store: a lock file that names its holder.

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

__all__ = ["ResultsLocked", "RunLock", "lock_path"]

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


def lock_path(results: Path | str) -> Path:
    """The lock file of the results store at ``results``."""
    results = Path(results)
    return results.with_name(results.name + LOCK_SUFFIX)


class ResultsLocked(RuntimeError):
    """Another run is writing this results store."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``with RunLock(results_path): ...`` holds the store for this process."""

    def __init__(self, results: Path | str) -> None:
        self.path = lock_path(results)
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
                raise ResultsLocked(
                    f"{self.path.parent} is being written by another run (pid {pid} on "
                    f"{holder.get('host')}, since {holder.get('started')}: {holder.get('command')}). "
                    f"Wait for it to finish; if that run is dead, delete {self.path}"
                ) from None
            with os.fdopen(fd, "w") as fh:
                json.dump(self.me, fh)
            return
        raise ResultsLocked(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self._holder().get("pid") == self.me["pid"]:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
