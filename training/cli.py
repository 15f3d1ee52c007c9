"""``hts train``: train or fine-tune the segmentation network."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

__all__ = ["add_arguments", "register", "run"]

log = logging.getLogger(__name__)

#: Below this many spheroids (groups) a lab's folder is not split for validation.
MIN_GROUPS_TO_SPLIT = 10


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``hts train`` to the ``hts`` command line (the ``hts.commands`` entry point)."""
    p = sub.add_parser("train", help="train or fine-tune the U-Net (needs the [train] extra)")
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data (synthetic unless --images/--masks are given)")
    data.add_argument("--images", type=Path, help="folder of images with reference masks")
    data.add_argument("--masks", type=Path, help="folder of masks, same file stems as the images")
    data.add_argument("--pixel-size-um", type=float, help="pixel size of --images")
    data.add_argument(
        "--group-pattern", help="regex whose first group names the spheroid (split key)"
    )
    data.add_argument(
        "--synthetic", type=int, default=2000, help="number of synthetic training images"
    )
    data.add_argument(
        "--data-cache", type=Path, help="reuse/save the preprocessed data here (.npz)"
    )
    data.add_argument(
        "--val-data", type=Path, help="separate validation set (.npz); else a split by spheroid"
    )
    data.add_argument(
        "--extra-data",
        type=Path,
        action="append",
        default=[],
        help="more training data (.npz from python -m training.make_data); repeatable",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="run folder: checkpoints, metrics.csv, best.pt"
    )
    p.add_argument(
        "--init",
        help="start from these weights (fine-tuning): a weight file, or 'unet' for the shipped model",
    )
    p.add_argument(
        "--encoder", default="resnet34", help="resnet34 (the paper's U-Net) or tu-hrnet_w48"
    )
    p.add_argument(
        "--loss",
        default="dice",
        choices=["dice", "ce", "focal", "dice+ce", "image-dice+ce"],
        help="training loss (image-dice+ce: Dice per image plus cross-entropy)",
    )
    p.add_argument(
        "--optimizer",
        default="radam_lookahead",
        choices=["adam", "radam_lookahead"],
        help="optimizer (the paper's: RAdam with Lookahead)",
    )
    p.add_argument("--max-lr", type=float, help="skip the LR range test and use this")
    p.add_argument("--epochs", type=int, default=30, help="most epochs to train")
    p.add_argument(
        "--steps-per-epoch", type=int, default=100, help="training steps between validations"
    )
    p.add_argument("--batch-size", type=int, default=8, help="crops per training step")
    p.add_argument(
        "--crop", type=int, default=256, help="crop side in pixels, at the network's resolution"
    )
    p.add_argument(
        "--augment",
        default="paper",
        choices=["paper", "none"],
        help="geometric augmentation (paper: the paper's flips and rotation)",
    )
    p.add_argument(
        "--object-crop-fraction", type=float, default=0.75, help="crops centred near the spheroid"
    )
    p.add_argument(
        "--dark-crop-fraction",
        type=float,
        default=0.0,
        help="crops centred on dark pixels that are not spheroid (debris, well walls)",
    )
    p.add_argument(
        "--photometric",
        type=float,
        default=0.0,
        help="fraction of crops through random intensity changes (inversion, curves, halos)",
    )
    p.add_argument(
        "--freeze-norm",
        action="store_true",
        help="keep the starting weights' batch-norm statistics (fine-tuning on a few images)",
    )
    p.add_argument(
        "--select-on",
        default="val_jcd",
        help="validation figure that picks best.pt: val_jcd, val_jcd_CATEGORY or a sum of "
        "them (val_jcd_real+val_jcd)",
    )
    p.add_argument("--patience", type=int, default=6, help="early stopping patience (epochs)")
    p.add_argument("--no-bf16", action="store_true", help="train in fp32")
    p.add_argument("--time-budget-min", type=float, help="stop after this many minutes")
    p.add_argument(
        "--fit-to-budget",
        action="store_true",
        help="size the one-cycle schedule to --time-budget-min (--epochs becomes a cap); the "
        "planned schedule may run on to 1.5 times the budget if the machine slows, so it ends "
        "at its low rate",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument(
        "--loader-workers", type=int, default=0, help="processes cutting crops (GPU: ~8)"
    )
    p.add_argument(
        "--model-id", default="unet-r34", help="id stored with the weights and in results"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of crops, augmentation and init")


def run(args: argparse.Namespace) -> int:
    from hts.models import ModelConfig
    from training.data import Dataset, from_folder, synthetic
    from training.loop import TrainConfig, train

    init = None
    if args.init:  # first: a wrong name fails before any data is made
        from hts.models import DEFAULT_MODEL, model_path

        init = model_path(DEFAULT_MODEL if args.init == "unet" else args.init)
    if args.data_cache and args.data_cache.exists():
        data = Dataset.load(args.data_cache)
    elif args.images:
        if not args.masks or not args.pixel_size_um:
            raise ValueError("--images needs --masks and --pixel-size-um")
        data = from_folder(
            args.images,
            args.masks,
            pixel_size_um=args.pixel_size_um,
            group_pattern=args.group_pattern,
        )
    else:
        log.info("generating %d synthetic training images", args.synthetic)
        data = synthetic(args.synthetic, seed=args.seed + 1)
    if args.data_cache and not args.data_cache.exists():
        data.save(args.data_cache)
    for extra in args.extra_data:
        data = data.concat(Dataset.load(extra))
    if args.val_data:
        train_data, val_data = data, Dataset.load(args.val_data)
    elif len(set(data.groups)) < MIN_GROUPS_TO_SPLIT:
        # A lab's handful of images: all of them train; validating on them only picks the
        # epoch, it says nothing about other images (keep a few apart with --val-data).
        log.warning(
            "%d spheroids: too few to hold some out, so validation reuses the training images "
            "(its figures are not a test; give --val-data to measure)",
            len(set(data.groups)),
        )
        train_data, val_data = data, data
    else:
        train_data, val_data = data.split(val_fraction=0.1, seed=args.seed)
    config = TrainConfig(
        model=ModelConfig(encoder=args.encoder), loss=args.loss, optimizer=args.optimizer,
        max_lr=args.max_lr, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size, crop=args.crop, augment=args.augment, patience=args.patience,
        object_crop_fraction=args.object_crop_fraction,
        dark_crop_fraction=args.dark_crop_fraction, photometric=args.photometric,
        freeze_norm=args.freeze_norm, select_on=args.select_on,
        bf16=not args.no_bf16, seed=args.seed, model_id=args.model_id,
        time_budget_s=args.time_budget_min * 60 if args.time_budget_min else None,
        fit_to_budget=args.fit_to_budget, device=args.device,
        loader_workers=args.loader_workers,
    )  # fmt: skip
    log.info("training on %d images, validating on %d", len(train_data), len(val_data))
    best = train(config, train_data, val_data, args.out, init=init)
    print(f"best weights: {best}")
    return 0
