"""Command line: ``python -m hts.heldout OUT --per-category 20 --seed 0``.

Writes a held-out evaluation set (images, masks, index.csv) that ``hts evaluate --images
OUT/images --masks OUT/masks`` scores per category.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hts.heldout.scenes import CATEGORIES
from hts.heldout.writer import write_heldout_set

log = logging.getLogger("hts.heldout")


def _shape(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 512x640, got {text!r}") from exc
    if h < 64 or w < 64:
        raise argparse.ArgumentTypeError(f"images must be at least 64x64, got {text!r}")
    return h, w


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m hts.heldout``."""
    p = argparse.ArgumentParser(
        prog="python -m hts.heldout",
        description="Write a held-out synthetic evaluation set (never used for training): "
        "OUT/images, OUT/masks, OUT/index.csv.",
    )
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--per-category", type=int, default=20, help="images per category (20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--categories",
        default=",".join(CATEGORIES),
        help=f"comma-separated subset of {','.join(CATEGORIES)} (all)",
    )
    p.add_argument(
        "--shape", type=_shape, default=None, help="fixed image size HxW (default: drawn per image)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log each category")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    try:
        index = write_heldout_set(
            args.out, args.per_category, seed=args.seed, categories=categories, shape=args.shape
        )
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    log.info("index: %s", index)
    sys.stdout.write(f"{index}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
