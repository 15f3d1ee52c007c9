"""Trace a small plate's images from files to the results store (ingest, then `run_plate`
with the U-Net on ONNX Runtime, all in this process on a threaded Dask cluster) and list
the hts modules its calls cross, the module-to-module calls (hops) in first-seen order,
and pairs of packages that call each other both ways. docs/architecture.md quotes it::

    python docs/scripts/trace_walk.py walk.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any


def trace(out: Path) -> dict[str, Any]:
    from hts.distributed.cluster import ClusterSpec
    from hts.distributed.ingest import ingest
    from hts.distributed.run import run_plate
    from hts.io import IngestOptions
    from hts.testing import write_disk_plate

    hops: dict[tuple[str, str], int] = {}

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "call" or frame.f_back is None:
            return
        callee = frame.f_globals.get("__name__", "")
        caller = frame.f_back.f_globals.get("__name__", "")
        if callee.startswith("hts.") and caller.startswith("hts.") and callee != caller:
            hops.setdefault((caller, callee), len(hops))

    tmp = Path(tempfile.mkdtemp())
    write_disk_plate(tmp / "images")
    cluster = ClusterSpec(n_workers=1, threads_per_worker=1, processes=False)
    plate, results = tmp / "P.zarr", tmp / "P.results.zarr"
    options = IngestOptions(plate_map=tmp / "images_plate_map.csv")
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        ingest(tmp / "images", plate, options=options, cluster=cluster)
        run_plate(plate, results, segmenter="unet", engine="onnxruntime", cluster=cluster)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    order = sorted(hops, key=hops.__getitem__)
    modules = list(dict.fromkeys(m for hop in order for m in hop))
    packages = {(a.split(".")[1], b.split(".")[1]) for a, b in order}
    both_ways = sorted({tuple(sorted(p)) for p in packages if p[0] != p[1] and p[::-1] in packages})
    walk = {"modules": modules, "hops": order, "both_ways": both_ways}
    out.write_text(json.dumps(walk, indent=1))
    return walk


if __name__ == "__main__":
    walk = trace(Path(sys.argv[1]))
    print(
        f"{len(walk['modules'])} modules, {len(walk['hops'])} hops, "
        f"packages calling each other both ways: {walk['both_ways']}"
    )
