"""Inference engines behind one small interface, registered by name.

``torch``, ``onnxruntime`` and ``tensorrt`` import their libraries only when an engine is
built, so importing this package stays light.
"""

from hts.engines.base import Engine, available_engines, check_batch, get_engine, register_engine
from hts.engines.cache import resolve_cache_dir
from hts.engines.onnx_export import cached_onnx, export_onnx
from hts.engines.onnxruntime_engine import OnnxRuntimeEngine, default_providers
from hts.engines.select import auto_engine_name, static_engine_name
from hts.engines.tensorrt_engine import ShapeProfile, TensorRTEngine
from hts.engines.torch_engine import TorchEngine

__all__ = [
    "Engine",
    "OnnxRuntimeEngine",
    "ShapeProfile",
    "TensorRTEngine",
    "TorchEngine",
    "auto_engine_name",
    "available_engines",
    "cached_onnx",
    "check_batch",
    "default_providers",
    "export_onnx",
    "get_engine",
    "register_engine",
    "resolve_cache_dir",
    "static_engine_name",
]
