"""hts: high-throughput segmentation and growth analysis of tumour spheroid images.

Heavy dependencies (dask, zarr, xarray, torch, onnxruntime) are imported lazily by the
subpackages that need them, so ``import hts`` and ``hts --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "open_results"]

if TYPE_CHECKING:
    from hts.results.store import open_results


def __getattr__(name: str) -> Any:
    if name == "open_results":
        from hts.results.store import open_results

        return open_results
    raise AttributeError(f"module 'hts' has no attribute {name!r}")
