"""Inference engines behind one small interface, registered by name."""

from hts.engines.base import Engine, available_engines, get_engine

__all__ = ["Engine", "available_engines", "get_engine"]
