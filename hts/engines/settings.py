"""Engine settings the environment may supply: the one place that reads them.

Every engine option can be passed explicitly (`hts.engines.get_engine` ``**options``, or
the engine's constructor); where an option is not given, its default comes from here:

======================== ============================== =====================================
variable                 option                         default when unset
======================== ============================== =====================================
``HTS_ENGINE_THREADS``   ``threads`` (CPU engines)      ``$OMP_NUM_THREADS``, else the
                                                        runtime's own (every core)
``HTS_CACHE_DIR``        ``cache_dir`` (ONNX exports,   ``~/.cache/hts``
                         compiled and TensorRT engines)
``HTS_TENSORRT_MAX_INPUT`` ``max_input`` (TensorRT's    the half-resolution profile
                         largest ``YxX`` input)         (`hts.engines.tensorrt_engine.ShapeProfile`)
``HTS_AUTO_ENGINE``      ``static``: the automatic      timed once per CPU model
                         engine choice is not timed     (`hts.engines.autotune`)
======================== ============================== =====================================

Dask's nanny resets ``OMP_NUM_THREADS`` to 1 in every worker process, so hts's local
clusters hand each worker its share of the cores as ``HTS_ENGINE_THREADS``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "AUTO_ENGINE_ENV",
    "CACHE_DIR_ENV",
    "MAX_INPUT_ENV",
    "THREADS_ENV",
    "auto_engine_timed",
    "default_cache_dir",
    "engine_threads",
    "parse_max_input",
    "tensorrt_max_input",
]

#: CPU threads one engine may use.
THREADS_ENV = "HTS_ENGINE_THREADS"
#: The cache directory (default ``~/.cache/hts``).
CACHE_DIR_ENV = "HTS_CACHE_DIR"
#: Largest network input ``YxX`` (pixels, after preprocessing) of TensorRT's profile.
MAX_INPUT_ENV = "HTS_TENSORRT_MAX_INPUT"
#: ``static`` turns the timing of the automatic engine choice off (the fixed order).
AUTO_ENGINE_ENV = "HTS_AUTO_ENGINE"


def engine_threads(threads: int | None = None) -> int | None:
    """CPU threads for an engine: ``threads`` if given, else ``$HTS_ENGINE_THREADS``, else
    ``$OMP_NUM_THREADS``, else None (the runtime's own default: every core)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        return threads
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"${name} must be a positive integer, got {value!r}")
            return int(value)
    return None


def default_cache_dir() -> Path:
    """``$HTS_CACHE_DIR``, else ``~/.cache/hts`` (not created here)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "hts").expanduser()


def parse_max_input(text: str, *, source: str = "max_input") -> tuple[int, int]:
    """``"640x800"`` -> ``(640, 800)``: network input Y, X in pixels, multiples of 32."""
    match = re.fullmatch(r"(\d+)\s*[xX]\s*(\d+)", text.strip())
    if match is None:
        raise ValueError(f"{source}={text!r}: expected YxX in pixels, e.g. 640x800")
    yx = (int(match[1]), int(match[2]))
    if any(n % 32 for n in yx):
        raise ValueError(f"{source}={text!r}: network inputs are padded to multiples of 32")
    return yx


def tensorrt_max_input() -> tuple[int, int] | None:
    """``$HTS_TENSORRT_MAX_INPUT`` as ``(Y, X)``, or None where unset."""
    text = os.environ.get(MAX_INPUT_ENV, "").strip()
    return parse_max_input(text, source=MAX_INPUT_ENV) if text else None


def auto_engine_timed() -> bool:
    """Whether the automatic engine choice may time the candidates (``$HTS_AUTO_ENGINE``)."""
    return os.environ.get(AUTO_ENGINE_ENV, "").strip().lower() != "static"
