"""Segmenting plates on Dask workers: the cluster, the plan of blocks, the worker's task.

`run_plate` segments a plate into its results store, resumably; `ClusterSpec` says which
workers; `dask_client` and `map_bounded` run any work on them.

The names of `hts.distributed.run`, `.block` and `.plugin` are imported on first use:
`hts.io.ingest` imports this package for the cluster, and those modules import `hts.io`
and `hts.results` back (an import circle, until ingest's coordination leaves `hts.io`,
issue 14 item 1; then they join the imports below and ``__getattr__`` goes).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hts.distributed.cluster import (
    ClusterSpec,
    dask_client,
    engine_threads_per_worker,
    local_cluster_options,
    map_bounded,
    usable_cores,
)

if TYPE_CHECKING:
    from hts.distributed.block import Block, process_block
    from hts.distributed.plugin import SegmenterPlugin, describe_segmenter
    from hts.distributed.run import RunSummary, image_slots, plan_blocks, plan_slots, run_plate

__all__ = [
    "Block",
    "ClusterSpec",
    "RunSummary",
    "SegmenterPlugin",
    "dask_client",
    "describe_segmenter",
    "engine_threads_per_worker",
    "image_slots",
    "local_cluster_options",
    "map_bounded",
    "plan_blocks",
    "plan_slots",
    "process_block",
    "run_plate",
    "usable_cores",
]

_LATER = {
    "Block": "block",
    "process_block": "block",
    "SegmenterPlugin": "plugin",
    "describe_segmenter": "plugin",
    "RunSummary": "run",
    "image_slots": "run",
    "plan_blocks": "run",
    "plan_slots": "run",
    "run_plate": "run",
}


def __getattr__(name: str) -> Any:
    if name in _LATER:
        return getattr(importlib.import_module(f"hts.distributed.{_LATER[name]}"), name)
    raise AttributeError(f"module 'hts.distributed' has no attribute {name!r}")
