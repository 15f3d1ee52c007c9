"""``hts adapt``: the network's batch-norm statistics refitted to a lab's images, no masks.

Every batch-norm layer keeps the mean and variance of its features over the images it was
trained on, and normalises with them at inference. Images of another microscope or
export (inverted contrast, whole-well views) move those statistics, and the network's
features with them. AdaBN (Li et al., 2016, "Revisiting batch normalization for practical
domain adaptation") recomputes them on the new images: forward passes only, no weight is
trained and no mask is needed. Everything else in the weight file is kept.

It is not always better (docs/model-card.md, "Adapting without masks"): it helped most
where images look least like the training images, and cost a little where they look
alike. Check it with ``hts evaluate`` on a few annotated images before using it.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_LIMIT", "adapt_batch_norm", "adapt_weights", "register"]

log = logging.getLogger(__name__)

#: Images a folder contributes at most (spread over the sorted file list); statistics of
#: 100-200 images hardly move with more, and each costs one forward pass on the CPU.
DEFAULT_LIMIT = 200


def adapt_batch_norm(model: Any, inputs: Iterable[np.ndarray]) -> int:
    """Replace every batch-norm layer's running mean and variance with their average over
    ``inputs`` (one forward pass each); returns how many inputs were seen.

    Parameters
    ----------
    model : torch.nn.Module
        Left in eval mode, its other weights unchanged.
    inputs : iterable of (Y, X) uint8
        Network inputs (`hts.segment.preprocess.preprocess`); sizes may differ.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ValueError("the network has no batch-norm layers to adapt")
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the forward passes
        m.train()
    n = 0
    try:
        with torch.no_grad():
            for x in inputs:
                model(
                    torch.from_numpy(np.ascontiguousarray(x)[None, None].astype(np.float32) / 255)
                )
                n += 1
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    if n == 0:
        raise ValueError("no images to adapt the network to")
    return n


def _spread(files: Sequence[Path], limit: int) -> list[Path]:
    """At most ``limit`` of ``files``, evenly spread over them (every plate, well and day)."""
    if len(files) <= limit:
        return list(files)
    picks = np.linspace(0, len(files) - 1, limit).round().astype(int)
    return [files[i] for i in picks]


def adapt_weights(
    weights: Path | str, images: Path, out: Path, *, limit: int = DEFAULT_LIMIT
) -> tuple[Path, int]:
    """Write ``out``: ``weights`` with batch-norm statistics of the images under ``images``.

    A file that cannot be read is logged with its problem and left out. The new model id
    is the old one with ``+bn-`` and a digest of the new statistics, so results made with
    the adapted model are told apart from the original's (and redone by ``hts run``).
    Returns the file and the number of images used.
    """
    from hts.io.readers import IMAGE_SUFFIXES, ImageReadError, read_image
    from hts.models.unet import load_weights, save_weights
    from hts.segment.preprocess import preprocess

    if not images.is_dir():
        raise ValueError(f"{images}: not a folder of images")
    files = sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{images}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    chosen = _spread(files, limit)

    def inputs() -> Iterable[np.ndarray]:
        for i, path in enumerate(chosen, 1):
            try:
                x = preprocess(read_image(path).pixels)
            except (ImageReadError, OSError, ValueError) as exc:
                log.warning("%s: left out: %s", path, exc)
                continue
            if i % 20 == 0:
                log.info("%d of %d images", i, len(chosen))
            yield x

    model, config, info = load_weights(weights)
    n = adapt_batch_norm(model, inputs())
    stats = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        if name.endswith(("running_mean", "running_var")):
            stats.update(tensor.numpy().tobytes())
    base = str(info.pop("model_id", Path(weights).stem))
    info.pop("adapted_on", None)
    path = save_weights(
        model, out, config=config, model_id=f"{base}+bn-{stats.hexdigest()[:8]}",
        adapted_from=base, adapted_on=f"{n} images of {images}", **info,
    )  # fmt: skip
    return path, n


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``hts adapt`` to the ``hts`` command line (the ``hts.commands`` entry point)."""
    p = sub.add_parser(
        "adapt",
        help="refit the U-Net's batch-norm statistics to your own images (no masks; "
        "needs the [train] extra)",
    )
    p.add_argument(
        "--images", type=Path, required=True, help="folder of your images (searched recursively)"
    )
    p.add_argument("--out", type=Path, required=True, help="adapted weight file to write (.pt)")
    p.add_argument(
        "--model", default="unet", help="weights to adapt: 'unet' (the shipped model) or a file"
    )
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"most images used (default {DEFAULT_LIMIT})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hts.models.paths import DEFAULT_MODEL, model_path

    weights = model_path(DEFAULT_MODEL if args.model == "unet" else args.model)
    path, n = adapt_weights(weights, args.images, args.out, limit=args.limit)
    print(f"{path}: {weights.name} with batch-norm statistics of {n} images; use it with "
          f"hts run --model {path} (check it first: hts evaluate --model {path})")  # fmt: skip
    return 0
