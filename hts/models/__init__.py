"""Shipped model weights (package data) and where to find them."""

from hts.models.paths import DEFAULT_MODEL, model_path

__all__ = ["DEFAULT_MODEL", "model_path"]
