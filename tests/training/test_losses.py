"""Losses on hand-made logits with known answers."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.losses import dice_loss, image_dice_loss, make_loss  # noqa: E402


def _logits(prob: np.ndarray) -> torch.Tensor:
    """Two-class logits whose softmax spheroid probability is ``prob`` (clipped off 0 and 1)."""
    p = torch.from_numpy(np.clip(prob, 1e-6, 1 - 1e-6).astype(np.float32))
    return torch.stack([torch.zeros_like(p), torch.log(p / (1 - p))], dim=1)


def test_image_dice_weights_a_missed_small_object_like_a_large_one() -> None:
    target = np.zeros((2, 64, 64), dtype=np.int64)
    target[0, 4:60, 4:60] = 1  # large, found exactly
    target[1, 30:34, 30:34] = 1  # small, missed entirely
    pred = target.astype(np.float64).copy()
    pred[1] = 0.0
    logits, y = _logits(pred), torch.from_numpy(target)
    assert float(dice_loss(logits, y)) < 0.01  # the small miss vanishes in the batch sum
    # (0 + (1 - eps / (eps + 16))) / 2 with eps = 1: the 16-pixel miss costs half the batch
    assert float(image_dice_loss(logits, y)) == pytest.approx((1 - 1 / 17) / 2, abs=1e-3)


def test_image_dice_leaves_crops_without_a_spheroid_to_cross_entropy() -> None:
    target = np.zeros((2, 32, 32), dtype=np.int64)
    target[0, 8:24, 8:24] = 1
    pred = target.astype(np.float64).copy()
    pred[1, 0:10, 0:10] = 1.0  # a false object in the empty crop
    logits, y = _logits(pred), torch.from_numpy(target)
    assert float(image_dice_loss(logits, y)) == pytest.approx(0.0, abs=1e-3)
    empty = torch.zeros((1, 32, 32), dtype=torch.int64)
    loss = image_dice_loss(_logits(pred[1:]).requires_grad_(), empty)
    assert float(loss.detach()) == 0.0
    assert float(make_loss("image-dice+ce")(logits, y)) > 0.1  # CE sees the false object
