"""Load the segmenter once per Dask worker, when the worker starts (and restarts)."""

from __future__ import annotations

import logging
from typing import Any

from distributed import WorkerPlugin

from hts.segment import SegmenterSpec, get_segmenter

__all__ = ["SegmenterPlugin", "describe_segmenter"]

log = logging.getLogger(__name__)


def describe_segmenter(segmenter: SegmenterSpec) -> str:
    """What this process runs for ``segmenter``: its model id and inference engine, e.g.
    ``unet-r34-v6 on openvino-cpu-bf16`` (run on a worker: the automatic choice is its own)."""
    model = get_segmenter(segmenter)
    name = model.engine_name
    return f"{model.model_id} on {name}" if name else f"{model.model_id} (no inference engine)"


class SegmenterPlugin(WorkerPlugin):
    """Warms :func:`hts.segment.get_segmenter` on each worker.

    Tasks then find the model in the worker process's cache: it is built once per worker,
    never per task. A worker that dies and is restarted by its nanny loads it again.
    """

    def __init__(self, segmenter: SegmenterSpec) -> None:
        self.segmenter = segmenter
        self.name = f"hts-segmenter-{segmenter}-{segmenter.engine or 'auto'}"

    def setup(self, worker: Any) -> None:
        model = get_segmenter(self.segmenter)
        log.info("worker %s loaded segmenter %s", getattr(worker, "address", "?"), model.model_id)

    def resources(self, client: Any) -> dict[str, float] | None:
        """``{"GPU": 1}`` when the cluster's workers advertise GPUs: one task per GPU at a time."""
        workers = client.scheduler_info().get("workers", {}).values()
        if workers and all(w.get("resources", {}).get("GPU") for w in workers):
            return {"GPU": 1}
        return None
