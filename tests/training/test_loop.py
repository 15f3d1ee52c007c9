"""A tiny real training run: the loop trains, validates, checkpoints, resumes and saves fp16."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

from hts.models import ModelConfig, load_weights  # noqa: E402
from hts.testing import disk_image  # noqa: E402
from training.data import Dataset  # noqa: E402
from training.loop import TrainConfig, load_checkpoint, past_peak, train  # noqa: E402
from training.optim import Lookahead, lr_range_test  # noqa: E402


def _disks(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for i in range(n):
        image, mask = disk_image(
            (64, 80), float(rng.uniform(8, 20)), seed=seed * 100 + i, dtype=np.uint8
        )
        images.append(image)
        masks.append(mask.astype(np.uint8))
    return Dataset(images, masks, [f"s{seed}-{i}" for i in range(n)], ["clean"] * n, [2.0] * n)


def test_split_is_by_spheroid() -> None:
    data = _disks(6, 0)
    data.groups = ["a", "a", "b", "b", "c", "c"]
    train_set, val_set = data.split(val_fraction=0.34, seed=1)
    assert set(train_set.groups).isdisjoint(val_set.groups)
    assert len(train_set) + len(val_set) == 6


def test_train_checkpoints_resumes_and_saves_fp16(tmp_path: Path) -> None:
    config = TrainConfig(
        epochs=2,
        steps_per_epoch=3,
        batch_size=2,
        crop=64,
        max_lr=1e-3,
        threads=1,
        object_crop_fraction=0.5,
        dark_crop_fraction=0.3,
        time_budget_s=0.0,
    )
    out = tmp_path / "run"
    train(config, _disks(4, 1), _disks(2, 2), out)  # stops after epoch 1: the time budget is spent
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1"]
    best = train(
        TrainConfig(**{**config.__dict__, "time_budget_s": None}), _disks(4, 1), _disks(2, 2), out
    )
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]  # resumed, not restarted
    assert 0.0 <= float(rows[-1]["val_jcd"]) <= 1.0
    saved = torch.load(best, map_location="cpu", weights_only=True)
    assert all(
        v.dtype == torch.float16 for v in saved["state_dict"].values() if v.is_floating_point()
    )
    _, model_config, info = load_weights(best)
    assert info["model_id"] == "unet-r34" and model_config.encoder == "resnet34"
    assert "fine_tuned_from" not in info
    tuned = train(
        TrainConfig(**{**config.__dict__, "time_budget_s": None, "epochs": 1, "model_id": "ft"}),
        _disks(4, 1),
        _disks(2, 2),
        tmp_path / "ft",
        init=best,
    )
    assert load_weights(tuned)[2]["fine_tuned_from"] == "unet-r34"  # the lineage is kept


def test_resume_checkpoint_holds_only_tensors_and_plain_containers(tmp_path: Path) -> None:
    # a smaller encoder: the range test's 50 steps through ResNet34 took 24-33 s on 2 cores
    small = ModelConfig(encoder="resnet18")
    config = TrainConfig(model=small, epochs=1, steps_per_epoch=2, batch_size=2, crop=32, threads=1)
    train(config, _disks(4, 1), _disks(2, 2), tmp_path / "run")  # max_lr from the range test
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")  # weights_only=True
    assert all(type(v) in (int, float) for v in ckpt["state"].values())


def test_a_planted_or_old_checkpoint_is_refused_without_running_it(tmp_path: Path) -> None:
    import os

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return os.system, (f"touch {marker}",)

    out = tmp_path / "run"
    out.mkdir()
    torch.save({"state": Payload(), "model": {}}, out / "last.pt")
    config = TrainConfig(epochs=1, steps_per_epoch=1, batch_size=2, crop=32, max_lr=1e-3)
    with pytest.raises(ValueError, match=r"last\.pt: not resuming .*system.* delete it"):
        train(config, _disks(2, 1), _disks(1, 2), out)
    assert not marker.exists()
    # an older loop saved its counters as numpy scalars: refused with the same clear error
    torch.save({"state": {"epoch": 1, "best_jcd": np.float64(0.5)}}, out / "last.pt")
    with pytest.raises(ValueError, match=r"not resuming .*numpy"):
        train(config, _disks(2, 1), _disks(1, 2), out)


def test_lookahead_and_lr_range_test() -> None:
    w = torch.nn.Parameter(torch.tensor([4.0]))
    opt = Lookahead(torch.optim.SGD([w], lr=0.1), k=2, alpha=0.5)

    def step(lr: float) -> float:
        for g in opt.param_groups:
            g["lr"] = lr
        loss = (w**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    suggested, history = lr_range_test(step, start=1e-4, end=10.0, n=30)
    assert 1e-5 < suggested < 1.0
    assert len(history) <= 30


def test_early_stopping_waits_for_the_learning_rate_peak() -> None:
    """Epochs before the one-cycle peak (30 % of the run) never count towards patience."""
    assert [e for e in range(1, 41) if not past_peak(e, 40)] == list(range(1, 13))
    assert past_peak(13, 40) and past_peak(2, 2)


def test_crop_fractions_are_checked() -> None:
    with pytest.raises(ValueError, match="sum to at most 1"):
        TrainConfig(object_crop_fraction=0.8, dark_crop_fraction=0.3)
    with pytest.raises(ValueError, match="needs a time budget"):
        TrainConfig(fit_to_budget=True)
    with pytest.raises(ValueError, match="loader_workers"):
        TrainConfig(loader_workers=-1)


def test_crops_cut_in_worker_processes_feed_the_same_loop(tmp_path: Path) -> None:
    config = TrainConfig(
        epochs=1, steps_per_epoch=3, batch_size=2, crop=64, max_lr=1e-3, threads=1,
        loader_workers=2,
    )  # fmt: skip
    best = train(config, _disks(4, 1), _disks(2, 2), tmp_path / "run")
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1"] and np.isfinite(float(rows[0]["train_loss"]))
    assert best.exists()


def test_schedule_is_sized_to_the_time_budget(tmp_path: Path) -> None:
    """With fit_to_budget the one-cycle schedule is planned to end inside the budget and
    runs to its end (its rate down to ~0), instead of being cut off at a high rate."""
    max_lr = 1e-3
    config = TrainConfig(
        epochs=1000, steps_per_epoch=4, batch_size=2, crop=32, max_lr=max_lr, threads=1,
        time_budget_s=20.0, fit_to_budget=True, patience=10_000,
    )  # fmt: skip
    train(config, _disks(4, 1), _disks(2, 2), tmp_path / "run")
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    planned = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["state"]["epochs"]
    assert 1 <= planned < 1000  # sized by the budget, not the cap
    assert len(rows) == planned  # the whole schedule ran
    assert float(rows[-1]["lr"]) < 1e-3 * max_lr  # and ended at its lowest rate


def test_selection_score_names_or_sums_validation_figures() -> None:
    from training.loop import selection_score

    row = {"epoch": 3, "val_jcd": 0.2, "val_jcd_real": 0.1, "val_jcd_debris": 0.3}
    assert selection_score(row, "val_jcd") == 0.2
    assert selection_score(row, "val_jcd_real+val_jcd_debris") == pytest.approx(0.4)
    with pytest.raises(ValueError, match="not a validation figure"):
        selection_score(row, "val_jcd_clean")


def test_freeze_norm_keeps_the_starting_batch_norm_and_trains_the_rest(tmp_path: Path) -> None:
    """Fine-tuning with ``freeze_norm``: running statistics, scale and shift of every
    batch-norm layer come out as they went in; the convolutions do change."""
    config = TrainConfig(
        model=ModelConfig(encoder="resnet18"),
        epochs=1,
        steps_per_epoch=3,
        batch_size=2,
        crop=64,
        max_lr=1e-3,
        threads=1,
        object_crop_fraction=0.5,
    )
    start = train(config, _disks(4, 1), _disks(2, 2), tmp_path / "start")
    frozen = TrainConfig(**{**config.__dict__, "freeze_norm": True, "seed": 1})
    tuned = train(frozen, _disks(4, 3), _disks(2, 2), tmp_path / "tuned", init=start)
    before = torch.load(start, map_location="cpu", weights_only=True)["state_dict"]
    after = torch.load(tuned, map_location="cpu", weights_only=True)["state_dict"]
    norm = [k for k in before if ".bn" in k or k.split(".")[-1].startswith("running_")]
    assert any(k.endswith("running_mean") for k in norm)
    assert all(torch.equal(before[k], after[k]) for k in norm)
    convs = [k for k in before if k.endswith("conv1.weight")]
    assert convs and not all(torch.equal(before[k], after[k]) for k in convs)
