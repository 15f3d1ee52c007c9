"""The training loop: the paper's recipe, resumable, with per-epoch metrics.

Recipe (Streller et al. 2025): augmentation where each training image is used once as it
is and once through one of vertical flip, horizontal flip or 180 degree rotation; LR range
test; one-cycle schedule; early stopping on the validation Jaccard distance; Dice loss with
RAdam + Lookahead for the U-Net. On CPU we train on random crops (mostly around the
spheroid) with bf16 autocast and channels-last; validation runs on whole images. On a GPU
(``device="cuda"``) the same loop runs with bf16 autocast there, crops cut by DataLoader
worker processes, and, given a time budget, a one-cycle schedule sized to fit it.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import pickle
import time
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from hts.measure.choose import choose_spheroid
from hts.measure.metrics import jaccard_distance
from hts.measure.morphometrics import largest_object
from hts.models import ModelConfig, build_model, save_weights
from hts.segment import FLIPS, pad_to_multiple
from training.augment import photometric
from training.data import Dataset
from training.losses import make_loss
from training.optim import lr_range_test, make_optimizer

__all__ = [
    "BUDGET_OVERRUN",
    "TrainConfig",
    "dark_background_pixels",
    "load_checkpoint",
    "past_peak",
    "selection_score",
    "train",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run; saved beside its checkpoints."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: str = "dice"
    optimizer: str = "radam_lookahead"
    max_lr: float | None = None  # None: LR range test
    epochs: int = 30
    steps_per_epoch: int = 100
    batch_size: int = 8
    crop: int = 256
    augment: str = "paper"  # "paper" | "none"
    #: Fraction of crops centred near the spheroid; the rest fall anywhere in the image, so
    #: the network also learns what is not a spheroid (well walls, bubbles, far debris).
    object_crop_fraction: float = 0.75
    #: Fraction of crops centred on one of the darkest pixels that are not spheroid
    #: (dead-cell clumps, the dark outside of a well wall, bubble rims): hard negatives,
    #: which random crops rarely hit. Drawn after the object crops; the rest are random.
    dark_crop_fraction: float = 0.0
    #: Fraction of crops sent through a random chain of intensity changes
    #: (`training.augment.photometric`: curves, inversion, halos, local contrast, blur,
    #: noise, JPEG), so the network cannot learn "spheroid = darkest pixels".
    photometric: float = 0.0
    #: Keep the batch-norm layers as the starting weights had them: their running
    #: statistics are not re-estimated from the crops (and their scale and shift not
    #: trained). For fine-tuning on a few images, whose crops would otherwise replace
    #: statistics learnt from thousands of images by those of one or two.
    freeze_norm: bool = False
    #: Validation figure that picks ``best.pt`` and drives early stopping: ``val_jcd`` (all
    #: images) or ``val_jcd_CATEGORY`` (e.g. ``val_jcd_real`` for a set of real images
    #: given the category ``real``), or a sum of them (``val_jcd_real+val_jcd_debris``).
    select_on: str = "val_jcd"
    #: Early stopping: epochs without a better validation JCD, counted only once the
    #: one-cycle schedule has passed its peak learning rate (before it, validation swings
    #: with the rising rate; a first run here stopped at the peak, 12 epochs after an
    #: early best, before the rate had come down at all).
    patience: int = 6
    bf16: bool = True
    threads: int = 2
    seed: int = 0
    model_id: str = "unet-r34"
    time_budget_s: float | None = None  # stop (and keep the best so far) after this long
    #: Size the one-cycle schedule to ``time_budget_s``: time a few steps and one
    #: validation first, then run as many whole epochs as fit (``epochs`` is then a cap).
    #: Without it a budget only cuts the schedule short, before the rate has come down.
    #: With it the planned schedule may run on to `BUDGET_OVERRUN` times the budget (a
    #: machine that slowed after the timing), so it ends at its low rate; past that it stops.
    fit_to_budget: bool = False
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", ...
    #: Processes cutting crops (0: in the training process). A GPU step outruns one
    #: process's cropping; on a 2-core CPU the network is the bottleneck and 0 is right.
    loader_workers: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.photometric <= 1.0:
            raise ValueError(f"photometric must be in [0, 1], got {self.photometric}")
        fractions = (self.object_crop_fraction, self.dark_crop_fraction)
        if min(fractions) < 0 or sum(fractions) > 1:
            raise ValueError(
                "object_crop_fraction and dark_crop_fraction must be >= 0 and sum to at most "
                f"1, got {self.object_crop_fraction} and {self.dark_crop_fraction}"
            )
        if self.fit_to_budget and self.time_budget_s is None:
            raise ValueError("fit_to_budget needs a time budget (time_budget_s)")
        if self.loader_workers < 0:
            raise ValueError(f"loader_workers must be >= 0, got {self.loader_workers}")


#: Fraction of the one-cycle schedule spent rising to the peak rate (OneCycleLR's default).
_PEAK_FRACTION = 0.3
#: With ``fit_to_budget``, the planned schedule may run on to this multiple of the time
#: budget before it is cut: the plan comes from timing a few steps, and a shared machine
#: that slows afterwards would otherwise stop it before its rate has come down.
BUDGET_OVERRUN = 1.5


def past_peak(epoch: int, epochs: int) -> bool:
    """Whether ``epoch`` (1-based) ends after the one-cycle schedule's peak learning rate."""
    return epoch > _PEAK_FRACTION * epochs


def selection_score(row: dict[str, Any], select_on: str) -> float:
    """The validation figure ``select_on`` names (a key of ``row``, or keys joined by +)."""
    keys = select_on.split("+")
    missing = [k for k in keys if k not in row]
    if missing:
        raise ValueError(
            f"select_on={select_on!r}: {missing} not a validation figure; this validation "
            f"set gives {sorted(k for k in row if k.startswith('val_'))}"
        )
    return float(sum(row[k] for k in keys))


def _transform(image: np.ndarray, kind: int) -> np.ndarray:
    """0: identity, 1: vertical flip, 2: horizontal flip, 3: rotation by 180 degrees."""
    return image if kind == 0 else FLIPS[kind - 1](image[None])[0]


def dark_background_pixels(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    rng: np.random.Generator,
    quantile: float = 0.05,
    margin: int = 8,
    keep: int = 512,
) -> np.ndarray:
    """Flat indices of up to ``keep`` of the darkest pixels that are not spheroid.

    Dark means at or below the ``quantile`` of the pixels more than ``margin`` pixels from
    the spheroid mask. A brightfield spheroid is dark, so these are where a network is
    tempted to see one: debris clumps, the outside of a well wall, bubble rims.
    """
    near = cv2.dilate(mask.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) > 0
    far = ~near
    if not far.any():
        return np.empty(0, dtype=np.int64)
    level = np.quantile(image[far], quantile)
    index = np.flatnonzero((image <= level) & far)
    if index.size > keep:
        index = rng.choice(index, size=keep, replace=False)
    return index.astype(np.int64)


class _Crops:
    """Random crops; each sample once plain and once through its one paper transform."""

    def __init__(self, data: Dataset, config: TrainConfig, rng: np.random.Generator) -> None:
        self.data = data
        self.config = config
        self.rng = rng
        n = len(data)
        self.kinds = rng.integers(1, 4, size=n)  # each image's one transform, fixed
        self.index = [(i, 0) for i in range(n)]
        if config.augment == "paper":
            self.index += [(i, int(self.kinds[i])) for i in range(n)]
        self.order: list[int] = []
        self.dark_cache: dict[int, np.ndarray] = {}

    def _dark(self, i: int) -> np.ndarray:
        """Flat indices of image ``i``'s darkest non-spheroid pixels (a sample, cached)."""
        if i not in self.dark_cache:
            self.dark_cache[i] = dark_background_pixels(
                self.data.images[i], self.data.masks[i], rng=self.rng
            )
        return self.dark_cache[i]

    def _one(self, i: int, kind: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self.data.images[i], self.data.masks[i]
        c = self.config.crop
        if image.shape[0] < c or image.shape[1] < c:
            pad = ((0, max(0, c - image.shape[0])), (0, max(0, c - image.shape[1])))
            image, mask = np.pad(image, pad, mode="reflect"), np.pad(mask, pad, mode="constant")
        h, w = image.shape
        ys, xs = np.nonzero(mask)
        u = self.rng.random()
        centre: tuple[float, float] | None = None
        if ys.size and u < self.config.object_crop_fraction:
            centre = (float(np.mean(ys)), float(np.mean(xs)))
        elif u < self.config.object_crop_fraction + self.config.dark_crop_fraction:
            dark = self._dark(i)  # only now: most runs never ask for dark crops
            if dark.size:
                yx = np.unravel_index(int(self.rng.choice(dark)), self.data.images[i].shape)
                centre = (float(yx[0]), float(yx[1]))
        if centre is not None:
            cy = int(centre[0] + self.rng.normal(0, c / 4))
            cx = int(centre[1] + self.rng.normal(0, c / 4))
            y0, x0 = np.clip(cy - c // 2, 0, h - c), np.clip(cx - c // 2, 0, w - c)
        else:
            y0, x0 = self.rng.integers(0, h - c + 1), self.rng.integers(0, w - c + 1)
        sl = (slice(int(y0), int(y0) + c), slice(int(x0), int(x0) + c))
        crop = image[sl]
        if self.config.photometric and self.rng.random() < self.config.photometric:
            crop = photometric(crop, self.rng)
        return _transform(crop, kind), _transform(mask[sl], kind)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        images, masks = [], []
        for _ in range(self.config.batch_size):
            if not self.order:
                self.order = list(self.rng.permutation(len(self.index)))
            i, kind = self.index[self.order.pop()]
            image, mask = self._one(i, kind)
            images.append(image)
            masks.append(mask)
        x = torch.from_numpy(np.stack(images)[:, None].astype(np.float32) / 255.0)
        return x.contiguous(memory_format=torch.channels_last), torch.from_numpy(
            np.stack(masks).astype(np.int64)
        )


class _CropStream(torch.utils.data.IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """Endless crop batches for a DataLoader; each worker process draws its own crops."""

    def __init__(self, data: Dataset, config: TrainConfig) -> None:
        self.data = data
        self.config = config

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        worker = 0 if info is None else info.id
        crops = _Crops(self.data, self.config, np.random.default_rng([self.config.seed, worker]))
        while True:
            yield crops.batch()


def _batches(
    data: Dataset, config: TrainConfig, rng: np.random.Generator
) -> Generator[tuple[torch.Tensor, torch.Tensor]]:
    """Training batches, cut in this process or by ``config.loader_workers`` processes."""
    if config.loader_workers == 0:
        crops = _Crops(data, config, rng)
        while True:
            yield crops.batch()
    loader = torch.utils.data.DataLoader(
        _CropStream(data, config),
        batch_size=None,
        num_workers=config.loader_workers,
        pin_memory=torch.device(config.device).type == "cuda",
        prefetch_factor=4,
        persistent_workers=True,
    )
    yield from loader


def predict_probability(
    model: Any, image: np.ndarray, *, bf16: bool, device: str = "cpu"
) -> np.ndarray:
    """Spheroid probability ``(Y, X)`` of one preprocessed uint8 image (any size)."""
    padded, (py, px) = pad_to_multiple(image, multiple=32)
    x = torch.from_numpy(padded[None, None].astype(np.float32) / 255.0)
    x = x.to(device).contiguous(memory_format=torch.channels_last)
    kind = torch.device(device).type
    with torch.no_grad(), torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
        prob = model(x).float().softmax(dim=1)[0, 1].cpu().numpy()
    return prob[: prob.shape[0] - py, : prob.shape[1] - px]


def _norm_layers(model: Any) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def set_training_mode(model: Any, *, freeze_norm: bool) -> None:
    """``model.train()``, with the batch-norm layers kept in inference mode (their running
    statistics fixed) where ``freeze_norm`` (`TrainConfig.freeze_norm`)."""
    model.train()
    if freeze_norm:
        for layer in _norm_layers(model):
            layer.eval()


def freeze_norm_parameters(model: Any) -> None:
    """Stop gradients to the batch-norm layers' scale and shift."""
    for layer in _norm_layers(model):
        for parameter in layer.parameters():
            parameter.requires_grad_(False)


def validate(model: Any, data: Dataset, *, bf16: bool, device: str = "cpu") -> dict[str, float]:
    """Mean per-image JCD of the predicted spheroid, overall and per category.

    The spheroid is chosen as `hts run` chooses it (`choose_spheroid`, robust rule), so
    whole-well views are scored as the pipeline measures them. Each layer's training or
    inference mode is as it was before.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    jcd: list[float] = []
    for image, mask in zip(data.images, data.masks, strict=True):
        prob = predict_probability(model, image, bf16=bf16, device=device)
        pred = choose_spheroid(prob >= 0.5, prob).spheroid.full()
        target, _ = largest_object(mask > 0)
        jcd.append(jaccard_distance(pred, target))
    for module, training in modes:
        module.training = training
    out = {"val_jcd": float(np.mean(jcd))}
    for category in sorted(set(data.categories) - {""}):
        values = [j for j, c in zip(jcd, data.categories, strict=True) if c == category]
        out[f"val_jcd_{category}"] = float(np.mean(values))
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_epoch_parts(
    step: Any, validation: Any, checkpoint: Any, device: torch.device
) -> tuple[float, float]:
    """(seconds per training step after warm-up, seconds of one validation and one
    checkpoint): what one epoch costs beyond its steps."""
    for _ in range(3):  # warm-up: cuDNN autotuning, loader start-up
        step()
    _sync(device)
    n = 10
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    _sync(device)
    step_s = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    validation()
    checkpoint()
    return step_s, time.perf_counter() - t0


def _plain(state: dict[str, Any]) -> dict[str, int | float | None]:
    """The loop's counters as Python numbers: numpy scalars would not load with weights_only."""
    return {
        k: None if v is None else int(v) if isinstance(v, int | np.integer) else float(v)
        for k, v in state.items()
    }


def load_checkpoint(path: Path, *, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A resume checkpoint (``last.pt``): tensors and plain containers only.

    Loaded with ``weights_only=True``, so a planted file runs no code; one holding anything
    else (a checkpoint of an older version, or a payload) is refused with a ValueError.
    """
    try:
        return dict(torch.load(path, map_location=device, weights_only=True))
    except pickle.UnpicklingError as exc:
        why = next((ln for ln in str(exc).splitlines() if "GLOBAL" in ln), "").strip()
        raise ValueError(
            f"{path}: not resuming from this checkpoint: it holds more than tensors and plain "
            f"containers ({why or 'not loadable with weights_only'}). It may come from an older "
            "version of the training loop, or be planted; delete it (or train into another "
            "folder) to start over"
        ) from None


def train(
    config: TrainConfig,
    train_data: Dataset,
    val_data: Dataset,
    out: Path,
    *,
    init: Path | None = None,
) -> Path:
    """Train (or resume) into ``out``; returns the path of the best fp16 weight file.

    ``out/last.pt`` is written every epoch and resumed from if present; ``init`` starts
    from existing weights (fine-tuning).
    """
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop size: autotune once
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)

    def new_model() -> Any:
        net = build_model(config.model).to(device, memory_format=torch.channels_last)
        if config.freeze_norm:
            freeze_norm_parameters(net)
        set_training_mode(net, freeze_norm=config.freeze_norm)
        return net

    model = new_model()
    lineage: dict[str, str] = {}
    if init is not None:
        from hts.models import load_weights

        start, _, info = load_weights(init)
        model.load_state_dict(start.state_dict())
        lineage["fine_tuned_from"] = str(info.get("model_id", Path(init).stem))
    loss_fn = make_loss(config.loss)
    batches = _batches(train_data, config, rng)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2))

    def step(net: Any, optimizer: torch.optim.Optimizer) -> float:
        x, y = next(batches)
        x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            logits = net(x)
        loss = loss_fn(logits.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def probe() -> tuple[Any, torch.optim.Optimizer]:
        """A copy of the model to try steps on without touching the real one."""
        copy = new_model()
        copy.load_state_dict(model.state_dict())
        return copy, make_optimizer(config.optimizer, copy.parameters(), 1e-6)

    last = out / "last.pt"
    state: dict[str, Any] = {
        "epoch": 0,
        "epochs": config.epochs,
        "best_jcd": math.inf,
        "bad_epochs": 0,
        "max_lr": config.max_lr,
    }
    if last.exists():
        ckpt = load_checkpoint(last, device=device)
        state = {"epochs": config.epochs, **ckpt["state"]}
        model.load_state_dict(ckpt["model"])
        log.info("resuming from %s at epoch %d", last, state["epoch"])
    else:
        if state["max_lr"] is None:
            net, probe_opt = probe()

            def probe_step(lr: float) -> float:
                for group in probe_opt.param_groups:
                    group["lr"] = lr
                return step(net, probe_opt)

            state["max_lr"], history = lr_range_test(probe_step, n=50)
            (out / "lr_range_test.csv").write_text(
                "lr,loss\n" + "\n".join(f"{a:.3e},{b:.5f}" for a, b in history)
            )
            log.info("LR range test: max_lr %.2e", state["max_lr"])
        if config.fit_to_budget:
            assert config.time_budget_s is not None  # checked by TrainConfig
            net, probe_opt = probe()
            scratch = out / "timing.pt"
            step_s, val_s = _time_epoch_parts(
                lambda: step(net, probe_opt),
                lambda: log.info(  # the starting point, for fine-tuning
                    "before training: %s",
                    validate(model, val_data, bf16=config.bf16, device=config.device),
                ),
                lambda: torch.save(
                    {"model": net.state_dict(), "optimizer": probe_opt.state_dict()}, scratch
                ),
                device,
            )
            scratch.unlink()
            left = config.time_budget_s - (time.perf_counter() - started)
            epoch_s = config.steps_per_epoch * step_s + val_s
            # 10 % spare for timing noise (a shared machine varies more than 5 %); ``epochs``
            # is the cap
            state["epochs"] = max(1, min(config.epochs, int(0.9 * left / epoch_s)))
            log.info(
                "%.3f s per step, %.1f s per validation and checkpoint: %d epochs of %d steps "
                "fit in %.0f s",
                step_s, val_s, state["epochs"], config.steps_per_epoch, left,
            )  # fmt: skip
            del net, probe_opt
    epochs = int(state["epochs"])
    optimizer = make_optimizer(config.optimizer, model.parameters(), state["max_lr"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=state["max_lr"],
        total_steps=epochs * config.steps_per_epoch,
        pct_start=_PEAK_FRACTION,
    )
    if last.exists():
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
    metrics_path = out / "metrics.csv"
    set_training_mode(model, freeze_norm=config.freeze_norm)
    while state["epoch"] < epochs:
        t0 = time.perf_counter()
        losses = []
        for _ in range(config.steps_per_epoch):
            lr = scheduler.get_last_lr()[0]  # the rate this step uses
            losses.append(step(model, optimizer))
            scheduler.step()
        state["epoch"] += 1
        row: dict[str, Any] = {
            "epoch": state["epoch"],
            "train_loss": float(np.mean(losses)),
            "lr": lr,  # of the epoch's last step
        }
        row.update(validate(model, val_data, bf16=config.bf16, device=config.device))
        row["seconds"] = time.perf_counter() - t0
        new_file = not metrics_path.exists()
        with metrics_path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        log.info(
            "epoch %s",
            " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            ),
        )
        score = selection_score(row, config.select_on)
        if score < state["best_jcd"]:
            state["best_jcd"], state["bad_epochs"] = score, 0
            save_weights(
                model,
                out / "best.pt",
                config=config.model,
                model_id=config.model_id,
                val_jcd=row["val_jcd"],
                epoch=state["epoch"],
                **lineage,
            )
        elif past_peak(state["epoch"], epochs):
            state["bad_epochs"] += 1
        torch.save(
            {
                "state": _plain(state),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            },
            last,
        )
        if state["bad_epochs"] >= config.patience:
            log.info("early stop: no better validation JCD in %d epochs", config.patience)
            break
        if (
            config.time_budget_s is not None
            and time.perf_counter() - started
            > config.time_budget_s * (BUDGET_OVERRUN if config.fit_to_budget else 1.0)
        ):
            log.info("time budget of %.0f s spent; stopping", config.time_budget_s)
            break
    batches.close()  # ends the loader's worker processes
    return out / "best.pt"
