"""How far does fine-tuning on a lab's own 1 or 2 annotated images carry? (model card)

For each split of a folder of images with reference masks (e.g. ../shared/real-dev), the
model is fine-tuned on k images with the documented `hts train` recipe and scored with
`hts evaluate` on the images it did not see (with ``--suffix``'s modes, by default the
default segmenter's outline rule ``+edge``); the table gives the JCD of the model before
and after, per split, and the mean. Run from the repository root:

    python docs/scripts/finetune_few.py --images ../shared/real-dev/images \
        --masks ../shared/real-dev/masks --pixel-size-um 1 --out /tmp/finetune --k 1 2

Every run's folder (weights, metrics.csv, evaluate output) is kept under --out.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: The few-image recipe of the model card: short, low learning rate, the starting
#: batch-norm statistics kept, strong photometric augmentation; every number here is an
#: `hts train` option a lab can change.
RECIPE = [
    "--freeze-norm", "--loss", "image-dice+ce", "--max-lr", "3e-5", "--epochs", "6", "--steps-per-epoch", "25",
    "--batch-size", "4", "--crop", "256", "--object-crop-fraction", "0.7",
    "--photometric", "0.5", "--patience", "100",
]  # fmt: skip


def _hts(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "hts.cli.main", *args], check=True, capture_output=True, text=True
    )
    return out.stdout


def _mean_jcd(model: str, images: Path, masks: Path, um: float, out: Path) -> float:
    _hts("-q", "evaluate", "--images", str(images), "--masks", str(masks), "--model", model,
         "--pixel-size-um", str(um), "--out", str(out))  # fmt: skip
    with (out / "per_image.csv").open() as fh:
        return statistics.fmean(float(r["jcd"]) for r in csv.DictReader(fh))


def _link(files: list[Path], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        target = folder / f.name
        if not target.exists():
            target.symlink_to(f.resolve())
    return folder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--masks", type=Path, required=True)
    p.add_argument("--pixel-size-um", type=float, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--k", type=int, nargs="+", default=[1, 2])
    p.add_argument("--init", default="unet", help="model to fine-tune (default: the shipped one)")
    p.add_argument("--max-splits", type=int, default=5)
    p.add_argument(
        "--suffix",
        default="+edge",
        help="segmenter modes after the model, before and after fine-tuning (default +edge, "
        "the default's outline rule; '' for the network alone)",
    )
    p.add_argument(
        "--without-freeze-norm",
        action="store_true",
        help="leave --freeze-norm out of the recipe (batch-norm re-estimated, as before)",
    )
    p.add_argument(
        "--also",
        default="",
        help="more `hts train` options after the recipe's, which they override "
        '(as one argument: --also="--max-lr 3e-5")',
    )
    args = p.parse_args()
    images = sorted(f for f in args.images.iterdir() if f.is_file())
    masks = {f.stem: f for f in args.masks.iterdir()}
    um = args.pixel_size_um
    recipe = [a for a in RECIPE if not (args.without_freeze_norm and a == "--freeze-norm")]
    rows = []
    for k in args.k:
        splits = list(itertools.combinations(range(len(images)), k))
        if len(splits) > args.max_splits:  # spread over the images: (0,1), (1,2), ...
            splits = [tuple((s + j) % len(images) for j in range(k)) for s in range(len(images))]
            splits = splits[: args.max_splits]
        for split in splits:
            name = f"k{k}_" + "_".join(str(i) for i in split)
            run = args.out / name
            train = [images[i] for i in split]
            test = [f for i, f in enumerate(images) if i not in split]
            tr_im = _link(train, run / "train" / "images")
            tr_mk = _link([masks[f.stem] for f in train], run / "train" / "masks")
            te_im = _link(test, run / "test" / "images")
            te_mk = _link([masks[f.stem] for f in test], run / "test" / "masks")
            before = _mean_jcd(args.init + args.suffix, te_im, te_mk, um, run / "eval_before")
            t0 = time.perf_counter()
            _hts("train", "--images", str(tr_im), "--masks", str(tr_mk), "--pixel-size-um",
                 str(um), "--init", args.init, "--out", str(run / "model"), *recipe,
                 *shlex.split(args.also))  # fmt: skip
            seconds = time.perf_counter() - t0
            after = _mean_jcd(
                f"{run / 'model' / 'best.pt'}{args.suffix}", te_im, te_mk, um, run / "eval_after"
            )
            rows.append((k, name, len(test), before, after, seconds))
            print(f"{name}: JCD on {len(test)} unseen {before:.3f} -> {after:.3f} "
                  f"({seconds:.0f} s of training)", flush=True)  # fmt: skip
    print("\nk  split       n  JCD before  JCD after  train s")
    for k, name, n, before, after, seconds in rows:
        print(f"{k}  {name:<10} {n:>2}  {before:10.3f} {after:10.3f} {seconds:8.0f}")
    for k in args.k:
        sel = [r for r in rows if r[0] == k]
        if sel:
            print(f"{k}  mean over {len(sel)} splits: "
                  f"{statistics.fmean(r[3] for r in sel):.3f} -> "
                  f"{statistics.fmean(r[4] for r in sel):.3f}, "
                  f"median {statistics.median(r[5] for r in sel):.0f} s of training")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
