"""Running work on Dask workers: the cluster, ingests, the plan of blocks, the worker's task.

`run_plate` segments a plate into its results store, resumably; `ingest` files images into
a plate; `ClusterSpec` says which workers; `dask_client` and `map_bounded` run any work on
them.
"""

from __future__ import annotations

from hts.distributed.block import Block, process_block
from hts.distributed.cluster import (
    ClusterSpec,
    dask_client,
    engine_threads_per_worker,
    local_cluster_config,
    local_cluster_options,
    map_bounded,
    usable_cores,
)
from hts.distributed.ingest import ingest
from hts.distributed.plugin import SegmenterPlugin, describe_segmenter
from hts.distributed.run import (
    RunSummary,
    count_blocks,
    image_slots,
    plan_blocks,
    plan_slots,
    run_plate,
)

__all__ = [
    "Block",
    "ClusterSpec",
    "RunSummary",
    "SegmenterPlugin",
    "count_blocks",
    "dask_client",
    "describe_segmenter",
    "engine_threads_per_worker",
    "image_slots",
    "ingest",
    "local_cluster_config",
    "local_cluster_options",
    "map_bounded",
    "plan_blocks",
    "plan_slots",
    "process_block",
    "run_plate",
    "usable_cores",
]
