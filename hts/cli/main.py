"""The ``hts`` command line. Imports of heavy libraries happen inside each command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hts import __version__
from hts.io.lock import StoreLocked
from hts.models.paths import DEFAULT_SEGMENTER

if TYPE_CHECKING:
    from hts.distributed.cluster import ClusterSpec

__all__ = ["main"]

#: Exit status when a command finished but left some input out (e.g. unreadable files).
EXIT_INCOMPLETE = 3

log = logging.getLogger("hts.cli")


class _HelpFormatter(argparse.HelpFormatter):
    """Says an option's default where its help does not already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "default" not in text
            and default is not None
            and default is not False
            and default != argparse.SUPPRESS
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """An argument parser (and so each subcommand's) with `_HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _add_cluster_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Dask")
    group.add_argument(
        "--scheduler", metavar="ADDRESS", help="existing Dask scheduler, e.g. tcp://host:8786"
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local single-threaded worker processes (default: one worker, a thread per core)",
    )
    group.add_argument(
        "--dashboard",
        nargs="?",
        const="127.0.0.1:8787",
        metavar="HOST:PORT",
        help="serve Dask's dashboard (needs bokeh) of a local cluster (default: none; without a value: "
        "127.0.0.1:8787; its link is logged with -v). A local cluster listens on 127.0.0.1 only",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hts",
        description="High-throughput segmentation and growth analysis of tumour spheroid images.",
    )
    parser.add_argument("--version", action="version", version=f"hts {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "synth", help="write a synthetic plate of brightfield images with ground truth"
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--wells", type=int, default=8, help="number of wells (spheroids)")
    p.add_argument(
        "--days", type=int, default=10, help="days imaged after treatment (day 0 included)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed, the same plate")
    p.add_argument("--plate", default="SYN01", help="plate name used in file names")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("ingest", help="ingest a folder of images into an OME-Zarr plate")
    p.add_argument("source", type=Path, help="folder searched recursively for TIFF/PNG/JPEG images")
    p.add_argument("--out", required=True, type=Path, help="plate path, e.g. PLATE.zarr")
    p.add_argument(
        "--pattern",
        default="auto",
        help="naming preset (incucyte, imagexpress, cytation, days), 'auto', or a regex with named groups",
    )
    p.add_argument(
        "--manifest",
        type=Path,
        help="CSV assigning files to wells and time points, instead of --pattern "
        "(columns: docs/data-model.md)",
    )
    p.add_argument(
        "--plate-map",
        type=Path,
        help="CSV of per-well metadata: cell_line, agent, dose, arm, replicate, treated_at",
    )
    p.add_argument(
        "--pixel-size-um", type=float, help="pixel size in micrometres (overrides file metadata)"
    )
    p.add_argument(
        "--plate",
        dest="plate_name",
        help="plate name (default: from file names, else the folder name)",
    )
    p.add_argument(
        "--treated-at",
        type=datetime.fromisoformat,
        help="treatment time (ISO 8601) for wells without one in the plate map",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="checksum every already-ingested file, not only changed ones, and check every "
        "stored image against its record (damaged ones are re-written from their source)",
    )
    p.add_argument(
        "--max-image-pixels",
        type=int,
        default=100_000_000,
        metavar="N",
        help="refuse files whose header claims more pixels than this, before decoding "
        "(default: %(default)s)",
    )
    p.add_argument("--report", type=Path, help="also write the ingest report as JSON here")
    _add_cluster_args(p)
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser(
        "verify",
        help="check a plate's stored images and source files against its ingest records",
        description="Check every image a plate records: its stored pixels are present and "
        "match the checksum recorded at ingest, and its source file is still there, unchanged "
        "(SHA-256). Exit status 3 when anything is damaged, missing or changed. "
        "'hts ingest --verify' re-writes damaged images from unchanged source files.",
    )
    p.add_argument("plate", type=Path, help="OME-Zarr plate written by 'hts ingest'")
    p.add_argument(
        "--source",
        type=Path,
        help="folder the images were ingested from (default: the folders the plate's ingest "
        "runs recorded)",
    )
    p.add_argument(
        "--no-sources", action="store_true", help="check the stored images only, not the sources"
    )
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser(
        "run",
        help="segment a plate into a results store",
        description="Segment every image of a plate that has no current result: a re-run "
        "does only images that are new, failed before, or were made by another model or an "
        "older post-processing version, and says how many of each.",
    )
    p.add_argument("plate", type=Path, help="OME-Zarr plate written by 'hts ingest'")
    p.add_argument(
        "--results", type=Path, help="results store (default: PLATE's name with .results.zarr)"
    )
    p.add_argument(
        "--model",
        default=DEFAULT_SEGMENTER,
        help=f"segmenter (default {DEFAULT_SEGMENTER}): unet, classical, a weight file, or the "
        "name of an installed segmenter plugin (hts.segmenters entry points); after unet or a "
        "weight file: @0.6 runs the network on 0.6 of the image size instead of half, +tta "
        "averages it over flips (unet@0.6+tta: lower error with debris, about 5x the time), "
        "+zoom looks again at twice the scale where the spheroid is small or doubtful (+near: "
        "only in a window around it), +pol "
        "looks at doubtful images inverted (bright spheroids on dark), +edge grows the "
        "spheroid's outline into the dark cells around it where it stays compact, in that order",
    )
    p.add_argument(
        "--engine",
        help="inference engine: openvino, onnxruntime, torch, tensorrt (default: automatic: "
        "tensorrt on a GPU, else openvino (bf16 where the CPU has it), else onnxruntime)",
    )
    p.add_argument(
        "--batch-size", type=int, default=8, help="images per engine call (memory grows with it)"
    )
    p.add_argument(
        "--redo",
        action="store_true",
        help="reprocess every image, not only missing or outdated ones",
    )
    _add_cluster_args(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "evaluate", help="score a segmenter against reference masks (the paper's metrics)"
    )
    p.add_argument("--images", type=Path, required=True, help="folder of images")
    p.add_argument(
        "--masks", type=Path, required=True, help="folder of reference masks (same file stems)"
    )
    p.add_argument(
        "--model",
        default=DEFAULT_SEGMENTER,
        help=f"segmenter (default {DEFAULT_SEGMENTER}), as hts run --model takes it: unet, "
        "unet@0.6+tta, classical, or a weight file path (@SCALE, +tta, +zoom, +pol, +edge allowed)",
    )
    p.add_argument("--pixel-size-um", type=float, help="pixel size (default: each file's metadata)")
    p.add_argument(
        "--categories", type=Path, help="CSV file,category (default: index.csv beside --images)"
    )
    p.add_argument("--out", type=Path, help="write per_image.csv, summary.txt and worst.png here")
    p.add_argument(
        "--choose",
        choices=("robust", "largest"),
        default="robust",
        help="which predicted object is the spheroid: robust (default, as hts run) or largest "
        "(the paper's rule)",
    )
    p.set_defaults(func=_cmd_evaluate)

    _add_installed_commands(sub)

    p = sub.add_parser(
        "report", help="write an HTML report: growth curves, endpoints, SCP, QC (needs [report])"
    )
    p.add_argument("results", type=Path, help="results store written by 'hts run'")
    p.add_argument("--out", required=True, type=Path, help="HTML file to write, e.g. report.html")
    p.add_argument(
        "--plate",
        type=Path,
        help="OME-Zarr plate for the montage (default: the one the store names)",
    )
    p.add_argument(
        "--figures", type=Path, help="folder for the PNG figures (default: OUT's stem + _figures)"
    )
    endpoint_default = "default: as hts.analysis.EndpointParams sets it; the report lists it"
    p.add_argument(
        "--relapse-factor",
        type=float,
        help=f"relapse: volume exceeds this x the reference volume ({endpoint_default})",
    )
    p.add_argument(
        "--relapse-reference",
        choices=("treatment", "nadir"),
        help=f"reference volume for relapse: at treatment or the smallest after ({endpoint_default})",
    )
    p.add_argument(
        "--growth-delay-factor",
        type=float,
        help=f"growth delay: time to reach this x V(treatment) ({endpoint_default})",
    )
    p.add_argument("--max-montage", type=int, default=24, help="most flagged images in the montage")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export", help="write a tidy table, one row per image (CSV or Parquet)")
    p.add_argument("results", type=Path, help="results store written by 'hts run'")
    p.add_argument("--out", required=True, type=Path, help="table.csv or table.parquet")
    p.add_argument("--contours", action="store_true", help="include each image's contour text")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "demo", help="synthesise, ingest and segment a demo plate, summarise it, write a report"
    )
    p.add_argument(
        "--dir", type=Path, default=Path("demo"), help="working folder (default: ./demo)"
    )
    p.add_argument("--wells", type=int, default=12, help="wells (spheroids) of the demo plate")
    p.add_argument("--days", type=int, default=8, help="days imaged after treatment")
    p.add_argument("--seed", type=int, default=0, help="random seed of the synthetic plate")
    p.add_argument(
        "--model",
        default=DEFAULT_SEGMENTER,
        help=f"segmenter (default {DEFAULT_SEGMENTER}), as hts run --model takes it, e.g. "
        "unet@0.6+tta (slower, lower error with debris) or classical",
    )
    p.add_argument("--engine", help="inference engine (default: automatic)")
    _add_cluster_args(p)
    p.set_defaults(func=_cmd_demo)
    return parser


def _progress(
    args: argparse.Namespace, desc: str, total: int | None = None
) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """A tqdm progress callback (or none with --quiet) and its closer."""
    if args.quiet:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True)
    return bar.update, bar.close


def _cluster(args: argparse.Namespace, *, processes: bool) -> ClusterSpec:
    from hts.distributed.cluster import ClusterSpec

    if args.scheduler:
        return ClusterSpec(args.scheduler)
    dashboard = getattr(args, "dashboard", None)
    if processes:
        return ClusterSpec(n_workers=args.workers, dashboard_address=dashboard)
    return ClusterSpec(
        n_workers=1,
        threads_per_worker=max(2, 2 * (args.workers or 2)),
        processes=False,
        dashboard_address=dashboard,
    )


def _cmd_synth(args: argparse.Namespace) -> int:
    from hts.synth import write_synthetic_plate

    update, close = _progress(args, "synth")
    try:
        plate = write_synthetic_plate(
            args.out,
            wells=args.wells,
            days=args.days,
            seed=args.seed,
            plate=args.plate,
            progress=update,
        )
    finally:
        close()
    print(f"wrote {plate.n_images} images of plate {args.plate} to {plate.images_dir}")
    print(f"plate map: {plate.plate_map_csv}")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    import json

    from hts.distributed.ingest import ingest
    from hts.io import IngestOptions

    options = IngestOptions(
        pattern=args.pattern, manifest=args.manifest, plate_map=args.plate_map,
        pixel_size_um=args.pixel_size_um, plate_name=args.plate_name,
        treated_at=args.treated_at, verify=args.verify, max_image_pixels=args.max_image_pixels,
    )  # fmt: skip
    update, close = _progress(args, "ingest")
    try:
        report = ingest(
            args.source,
            args.out,
            options=options,
            cluster=_cluster(args, processes=False),
            progress=update,
        )
    finally:
        close()
    print(report.summary())
    for problem in report.problems:
        if problem.kind != "ignored":
            print(f"  {problem.kind:8s} {problem.path}: {problem.reason}")
    if not (args.out / "zarr.json").exists():
        print(f"no image could be ingested: {args.out} was not written")
    if args.report:
        args.report.write_text(json.dumps(report.to_json(), indent=2))
    return 0 if report.complete else EXIT_INCOMPLETE


def _cmd_verify(args: argparse.Namespace) -> int:
    from hts.io.omezarr import PlateStore
    from hts.io.verify import stored_images, verify_plate

    total = sum(1 for _ in stored_images(PlateStore(args.plate)))
    update, close = _progress(args, "verify", total)
    try:
        check = verify_plate(
            args.plate, source=args.source, check_sources=not args.no_sources, progress=update
        )
    finally:
        close()
    print(check.summary())
    for problem in check.problems:
        print(f"  {problem.kind:8s} {problem.path}: {problem.reason}")
    return 0 if check.ok else EXIT_INCOMPLETE


def _cmd_run(args: argparse.Namespace) -> int:
    from hts.distributed import run_plate
    from hts.results import default_results_path
    from hts.segment import SegmenterSpec

    segmenter = SegmenterSpec.parse(str(args.model), engine=args.engine)  # once, here
    results = args.results or default_results_path(args.plate)
    bar: dict[str, Callable[[], None]] = {}
    holder: list[Callable[[int], None] | None] = [None]

    def on_plan(total: int) -> None:
        holder[0], bar["close"] = _progress(args, "segment", total)

    def update(n: int) -> None:
        if holder[0] is not None:
            holder[0](n)

    try:
        summary = run_plate(
            args.plate,
            results,
            segmenter=segmenter,
            batch_size=args.batch_size,
            cluster=_cluster(args, processes=True),
            redo=args.redo,
            progress=update,
            on_plan=on_plan,
        )
    finally:
        bar.get("close", lambda: None)()
    print(summary.line())
    if summary.counts.get("ok"):
        print(summary.qc_line())  # most flagged: run_plate logs a warning too
    print(f"results: {results}  (open with hts.open_results)")
    return EXIT_INCOMPLETE if summary.counts.get("failed") else 0


#: Entry-point group of subcommands defined above hts (``hts train``: the training package).
COMMAND_GROUP = "hts.commands"


def _add_installed_commands(sub: argparse._SubParsersAction) -> None:
    """Subcommands that installed packages declare in `COMMAND_GROUP`: each entry point is
    ``register(subparsers)``. hts imports none of them by name; one that cannot be loaded
    (e.g. ``train`` on a lean worker image without the training package) is left out."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:
            log.debug("hts %s is not available: %s", ep.name, exc)
            continue
        register(sub)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from hts.measure.choose import ChoiceParams
    from hts.measure.evaluate import evaluate_folder, format_table, write_outputs
    from hts.segment.postprocess import analyse_probability
    from hts.segment.registry import get_segmenter

    segmenter = get_segmenter(str(args.model))
    choice = ChoiceParams(rule=args.choose)

    def predict(image: np.ndarray, um: float) -> np.ndarray:
        return segmenter.predict(image, pixel_size_um=um)

    def qc(probability: np.ndarray, image: np.ndarray, um: float) -> int:
        """The QC bits `hts run` would store for this image."""
        analysis = analyse_probability(probability, pixel_size_um=um, image=image, choice=choice)
        return analysis.flags.to_bits()

    n = sum(1 for p in args.images.iterdir() if p.is_file())
    update, close = _progress(args, "evaluate", n)
    try:
        scores = evaluate_folder(
            args.images, args.masks, predict=predict, pixel_size_um=args.pixel_size_um,
            categories=args.categories, progress=update, choice=choice, qc=qc,
        )  # fmt: skip
    finally:
        close()
    if not scores:
        raise ValueError(f"{args.images}: no image has a reference mask in {args.masks}")
    print(f"model {segmenter.model_id} on {len(scores)} images of {args.images}")
    print(f"predicted spheroid: {args.choose} choice (--choose)")
    print(format_table(scores))
    if args.out:
        write_outputs(
            scores, args.out, images=args.images, masks=args.masks, predict=predict, choice=choice
        )
        print(f"per-image scores and worst overlays in {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from hts.analysis import EndpointParams
    from hts.report import write_report

    options = {
        "relapse_factor": args.relapse_factor,
        "relapse_reference": args.relapse_reference,
        "growth_delay_factor": args.growth_delay_factor,
    }
    params = replace(EndpointParams(), **{k: v for k, v in options.items() if v is not None})
    out = write_report(
        args.results,
        args.out,
        params=params,
        plate_path=args.plate,
        figures_dir=args.figures,
        max_montage=args.max_montage,
    )
    print(f"report: {out}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from hts.results.export import write_table

    out = write_table(args.results, args.out, include_contour=args.contours)
    print(f"table: {out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from hts.cli.summary import summarise_results
    from hts.results import default_results_path

    base: Path = args.dir
    synth_args = argparse.Namespace(**vars(args), out=base / "synthetic", plate="DEMO01")
    _cmd_synth(synth_args)
    plate = base / "DEMO01.zarr"
    ingest_args = argparse.Namespace(
        **vars(args), source=base / "synthetic" / "images", out=plate, pattern="auto", manifest=None,
        plate_map=base / "synthetic" / "plate_map.csv", pixel_size_um=None, plate_name=None,
        treated_at=None, verify=False, report=None, max_image_pixels=100_000_000,
    )  # fmt: skip
    status = _cmd_ingest(ingest_args)
    run_args = argparse.Namespace(**vars(args), plate=plate, results=None, redo=False, batch_size=8)
    status = max(status, _cmd_run(run_args))
    results = default_results_path(plate)
    print()
    print(summarise_results(results))
    try:
        from hts.report import write_report

        report = write_report(results, base / "report.html", plate_path=plate)
    except ImportError as exc:  # the report extra is not installed
        log.warning("no report (%s); install hts[report] for it", exc)
        return status
    print(f"report: {report}  (growth curves, endpoints, QC; opens offline in a browser)")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    level = (
        logging.WARNING
        if args.verbose == 0
        else logging.INFO
        if args.verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:
        # distributed configures its loggers on import, in this process and in every worker
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    try:
        return int(args.func(args))
    except (OSError, ValueError, StoreLocked) as exc:
        if args.verbose:
            raise
        print(f"hts {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hts {args.command}: interrupted; re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
