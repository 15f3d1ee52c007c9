"""Inference engines behind one small interface, registered by name.

``get_engine(name, weights, **options)`` imports an engine's module (and its library:
torch, onnxruntime, openvino, tensorrt) only when that engine is built, so importing this
package stays light. Options not passed take their defaults from `hts.engines.settings`
(the environment), the one place that reads it. The engine classes live in their modules
(`hts.engines.onnxruntime_engine.OnnxRuntimeEngine`, ...); `hts.engines.int8` quantises
(its command, with the accuracy check, is ``python -m hts.segment.int8``) and
`hts.engines.autotune` times the engines for the automatic choice.
"""

from hts.engines.base import Engine, check_batch
from hts.engines.cache import resolve_cache_dir
from hts.engines.registry import (
    COMMON_OPTIONS,
    available_engines,
    engine_factory,
    get_engine,
    register_engine,
)
from hts.engines.select import auto_engine_name, static_engine_name
from hts.engines.settings import (
    CACHE_DIR_ENV,
    MAX_INPUT_ENV,
    THREADS_ENV,
    default_cache_dir,
    engine_threads,
)

__all__ = [
    "CACHE_DIR_ENV",
    "COMMON_OPTIONS",
    "MAX_INPUT_ENV",
    "THREADS_ENV",
    "Engine",
    "auto_engine_name",
    "available_engines",
    "check_batch",
    "default_cache_dir",
    "engine_factory",
    "engine_threads",
    "get_engine",
    "register_engine",
    "resolve_cache_dir",
    "static_engine_name",
]
