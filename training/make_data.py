"""``python -m training.make_data OUT.npz``: a preprocessed synthetic set for ``hts train``.

Sets of different seeds (and mixes: more debris, more well walls) are made apart and then
given to ``hts train --data-cache A.npz --extra-data B.npz ...``. Sample ``i`` of a seed
is the same image on any machine, so a set can be remade where it is needed (a GPU node)
rather than copied there.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from training.data import synthetic

__all__ = ["main"]

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.make_data", description=__doc__)
    p.add_argument("out", type=Path, help="the .npz to write")
    p.add_argument("--n", type=int, required=True, help="number of images")
    p.add_argument("--seed", type=int, required=True, help="set seed (1, 2, 3 and 4 are taken)")
    p.add_argument("--debris-fraction", type=float, default=0.5)
    p.add_argument("--well-edge-probability", type=float, default=0.2)
    p.add_argument(
        "--cellular-probability", type=float, default=0.0,
        help="share of spheroids drawn as real ones look (core in a translucent cell border)",
    )  # fmt: skip
    p.add_argument(
        "--burn-in-probability", type=float, default=0.0,
        help="share of images with a burned-in scale bar and label",
    )  # fmt: skip
    p.add_argument(
        "--whole-well-probability", type=float, default=0.0,
        help="share of low-magnification views of the whole well (wall all round)",
    )  # fmt: skip
    p.add_argument(
        "--translucent-probability", type=float, default=0.0,
        help="share of spheroids with a lighter, textured band of cells around the core",
    )  # fmt: skip
    p.add_argument(
        "--light-border-probability", type=float, default=0.0,
        help="share of spheroids whose border cells are as light as the well (refractive)",
    )  # fmt: skip
    p.add_argument(
        "--cluster-lobe-probability", type=float, default=0.0,
        help="share of spheroids with lobes of loosely packed cells joined by a neck",
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    t0 = time.perf_counter()
    done = 0

    def progress(k: int) -> None:
        nonlocal done
        done += k
        if done % 500 == 0 or done == args.n:
            log.info("%d / %d images", done, args.n)

    data = synthetic(
        args.n,
        seed=args.seed,
        workers=args.workers,
        well_edge_probability=args.well_edge_probability,
        debris_fraction=args.debris_fraction,
        cellular_probability=args.cellular_probability,
        burn_in_probability=args.burn_in_probability,
        whole_well_probability=args.whole_well_probability,
        translucent_probability=args.translucent_probability,
        light_border_probability=args.light_border_probability,
        cluster_lobe_probability=args.cluster_lobe_probability,
        progress=progress,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data.save(args.out)
    log.info("wrote %s: %d images in %.0f s", args.out, len(data), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
