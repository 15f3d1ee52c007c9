"""Files an engine makes once per node and then reuses: ONNX exports, TensorRT engines.

Several Dask worker processes on one node may ask for the same file at once. A file is
written under a temporary name and renamed into place, so a reader sees all of it or
nothing; an advisory lock lets one process do the (slow) work while the others wait for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hts.engines.settings import default_cache_dir

__all__ = [
    "atomic_write_bytes",
    "exclusive_lock",
    "file_digest",
    "int8_model_path",
    "resolve_cache_dir",
]

logger = logging.getLogger(__name__)


def resolve_cache_dir(path: Path | str | None = None) -> Path:
    """The cache directory, created if missing.

    Parameters
    ----------
    path : path, optional
        Explicit directory; else `hts.engines.settings.default_cache_dir`
        (``$HTS_CACHE_DIR``, else ``~/.cache/hts``).

    Returns
    -------
    Path
    """
    if path is None:
        path = default_cache_dir()
    directory = Path(path).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def int8_model_path(weights: Path | str, *, cache_dir: Path | str | None = None) -> Path:
    """Where the INT8 IR of ``weights`` lives (its ``.xml``; the ``.bin`` beside it), as
    `hts.engines.int8` builds it and the ``openvino-int8`` engine reads it."""
    return resolve_cache_dir(cache_dir) / "int8" / f"{file_digest(weights)}-int8.xml"


def file_digest(path: Path | str, *, length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of a file's content."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:length]


def atomic_write_bytes(path: Path | str, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it to ``path``.

    The rename is atomic on POSIX file systems: readers find the old file, no file, or the
    whole new one, never a partial write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp makes 0600; other users of a shared cache must read it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def exclusive_lock(path: Path | str) -> Iterator[None]:
    """Hold an advisory lock on the file ``path`` (created if needed) for the block.

    Other processes (and threads) taking the same lock wait. Where ``fcntl`` locks are
    unavailable the block runs unlocked: atomic writes still keep every file whole.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        locked = True
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        except OSError as error:  # e.g. a file system without locks
            logger.warning("cannot lock %s (%s); going on without the lock", path, error)
            locked = False
        try:
            yield
        finally:
            if locked:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
