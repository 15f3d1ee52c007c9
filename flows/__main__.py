"""Run a flow once from the shell, against Prefect's ephemeral local API or ``PREFECT_API_URL``.

    python -m flows nightly --source INCOMING --plate PLATE.zarr [--plate-map MAP.csv]
        [--pattern PRESET_OR_REGEX | --manifest FILES.csv]
    python -m flows reprocess --archive FOLDER | --plates A.zarr B.zarr  [--model unet]

``--scheduler ADDRESS`` runs on an existing Dask cluster; otherwise local worker processes.
Without ``PREFECT_API_URL`` Prefect starts a temporary local server for the run; its usage
analytics are off unless ``PREFECT_SERVER_ANALYTICS_ENABLED`` says otherwise. Dask logs
warnings only, unless ``DASK_LOGGING__DISTRIBUTED`` says otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from flows.cluster import ClusterConfig
from hts.models import DEFAULT_SEGMENTER

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flows", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="flow", required=True)
    for name in ("nightly", "reprocess"):
        p = sub.add_parser(name)
        p.add_argument(
            "--model",
            default=DEFAULT_SEGMENTER,
            help=f"segmenter (default {DEFAULT_SEGMENTER}), as hts run --model takes it: unet, "
            "unet@0.6+tta, classical, FILE.pt[@SCALE][+tta][+zoom][+pol][+edge], or the name of an "
            "installed segmenter plugin",
        )
        p.add_argument("--engine", help="inference engine (default: automatic)")
        p.add_argument("--scheduler", help="address of a running Dask scheduler")
        p.add_argument("--workers", type=int, help="local worker processes (default: cores)")
        p.add_argument(
            "--retries", type=int, default=2, help="retries of a failed step (default: 2)"
        )
        if name == "nightly":
            p.add_argument("--source", required=True, help="folder the microscope writes to")
            p.add_argument("--plate", required=True, help="the plate, PLATE.zarr")
            p.add_argument("--plate-map", help="plate map CSV (per-well metadata)")
            names = p.add_mutually_exclusive_group()
            names.add_argument(
                "--pattern",
                default="auto",
                help="naming preset (incucyte, imagexpress, cytation, days), 'auto' (default), "
                "or a regex with named groups",
            )
            names.add_argument(
                "--manifest",
                help="CSV assigning files to wells and time points (docs/data-model.md)",
            )
            p.add_argument(
                "--pixel-size-um",
                type=float,
                help="pixel size in micrometres (default: from the files' metadata)",
            )
        else:
            p.add_argument("--plates", nargs="+", help="plates to reprocess")
            p.add_argument("--archive", help="folder searched for plates")
            p.add_argument("--force", action="store_true", help="redo images of this model too")
    return parser


def _quiet_defaults() -> None:
    """Defaults of a run from the shell, where a user did not choose otherwise: no Dask INFO
    logs (about 240 lines a night, in this process and each worker's), no usage analytics
    from the temporary Prefect server (its heartbeat fails, with a traceback, on a busy
    SQLite database), and time for that server to start on a busy machine."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if "DASK_LOGGING__DISTRIBUTED" not in os.environ:
        os.environ["DASK_LOGGING__DISTRIBUTED"] = "warning"  # read by the workers
        logging.getLogger("distributed").setLevel(logging.WARNING)  # imported already


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _quiet_defaults()
    cluster = ClusterConfig(scheduler=args.scheduler, n_workers=args.workers)
    common = {
        "model": args.model,
        "engine": args.engine,
        "cluster": cluster,
        "retries": args.retries,
    }
    if args.flow == "nightly":
        from flows.nightly import nightly_markdown, nightly_screen

        summary = nightly_screen(
            source=args.source,
            plate=args.plate,
            plate_map=args.plate_map,
            pattern=args.pattern,
            manifest=args.manifest,
            pixel_size_um=args.pixel_size_um,
            **common,
        )
        sys.stdout.write(nightly_markdown(summary))
        return 0
    from flows.reprocess import reprocess_archive, reprocess_markdown

    result = reprocess_archive(plates=args.plates, archive=args.archive, force=args.force, **common)
    sys.stdout.write(reprocess_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
