"""Engines by name: a table of ``"module:Class"`` targets, imported on first use.

Nothing here imports an engine module, so the table costs nothing until `get_engine`
builds one; the engine modules never import this one (no import circle). A variant of an
engine is a preset of its options, not a subclass: ``openvino-int8`` is ``OpenVinoEngine``
with ``precision="int8"``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hts.engines.base import Engine

__all__ = [
    "COMMON_OPTIONS",
    "EngineFactory",
    "available_engines",
    "engine_factory",
    "get_engine",
    "register_engine",
]

logger = logging.getLogger(__name__)

#: ``factory(weights, **options) -> Engine``: an engine class or a function.
EngineFactory = Callable[..., Engine]

#: Options every engine accepts: an engine without a use for one (``threads`` on a GPU,
#: ``cache_dir`` for torch) leaves it out, so one set of options suits the automatic choice.
COMMON_OPTIONS = frozenset({"threads", "cache_dir"})


@dataclass(frozen=True)
class _Entry:
    target: str | EngineFactory  # "module:attribute", resolved on first use
    preset: Mapping[str, Any] = field(default_factory=dict)


_ENGINES: dict[str, _Entry] = {
    "torch": _Entry("hts.engines.torch_engine:TorchEngine"),
    "onnxruntime": _Entry("hts.engines.onnxruntime_engine:OnnxRuntimeEngine"),
    "openvino": _Entry("hts.engines.openvino_engine:OpenVinoEngine"),
    # one precision each (the automatic choice names what it timed; int8: `hts.engines.int8`)
    **{
        f"openvino-{precision}": _Entry(
            "hts.engines.openvino_engine:OpenVinoEngine", {"precision": precision}
        )
        for precision in ("bf16", "fp32", "int8")
    },
    "tensorrt": _Entry("hts.engines.tensorrt_engine:TensorRTEngine"),
}


def register_engine(name: str, target: str | EngineFactory, **preset: Any) -> None:
    """Make ``get_engine(name, ...)`` build ``target`` (``"module:attribute"`` or a callable
    taking the weights and keyword options), with ``preset`` options fixed."""
    _ENGINES[name] = _Entry(target, dict(preset))


def available_engines() -> list[str]:
    """Registered engine names (installed or not: an engine's library is imported only when
    it is built)."""
    return sorted(_ENGINES)


def engine_factory(name: str) -> EngineFactory:
    """The class (or function) that builds engine ``name``, imported now."""
    entry = _entry(name)
    if callable(entry.target):
        return entry.target
    module, _, attribute = entry.target.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module), attribute)
    return factory


def get_engine(name: str, weights: Path | str, **options: Any) -> Engine:
    """Load ``weights`` into the engine ``name``.

    Parameters
    ----------
    name : str
        A registered engine (`available_engines`): ``torch``, ``onnxruntime``,
        ``openvino`` (``-bf16``, ``-fp32``, ``-int8``), ``tensorrt``.
    weights : path
        A weight file (`hts.models.unet.save_weights`) or its ONNX export.
    **options
        Keyword options of the engine's constructor, e.g. ``threads`` (CPU engines),
        ``cache_dir``, ``max_input`` (TensorRT's largest ``(Y, X)`` or ``"YxX"`` input),
        ``precision``. `COMMON_OPTIONS` are dropped by engines without a use for them; any
        other option the engine does not take is a ``TypeError``. Options not given take
        their defaults from `hts.engines.settings` (the environment).

    Returns
    -------
    Engine
    """
    entry = _entry(name)
    clash = sorted(set(entry.preset) & set(options))
    if clash:
        raise TypeError(f"engine {name!r} fixes {', '.join(clash)}; choose another engine name")
    factory = engine_factory(name)
    kwargs = {**entry.preset, **options}
    accepted = _keyword_options(factory)
    if accepted is not None:
        unused = sorted(set(kwargs) - accepted)
        if not_taken := [k for k in unused if k not in COMMON_OPTIONS]:
            raise TypeError(
                f"engine {name!r} takes no option {', '.join(not_taken)}; "
                f"it takes {', '.join(sorted(accepted)) or 'none'}"
            )
        if unused:
            logger.debug("engine %s has no use for %s", name, ", ".join(unused))
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return factory(Path(weights), **kwargs)


def _entry(name: str) -> _Entry:
    if name not in _ENGINES:
        raise ValueError(f"unknown engine {name!r}; available: {', '.join(available_engines())}")
    return _ENGINES[name]


def _keyword_options(factory: EngineFactory) -> frozenset[str] | None:
    """Keyword options ``factory`` takes after the weights; None if it takes ``**kwargs``."""
    parameters = list(inspect.signature(factory).parameters.values())[1:]  # after weights
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return frozenset(p.name for p in parameters if p.kind in kinds)
