"""Losses of the paper's comparison: Dice, cross-entropy, focal (two-class logits)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "make_loss"]


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice of the spheroid class, over the batch. logits (B, 2, Y, X), target (B, Y, X)."""
    prob = logits.float().softmax(dim=1)[:, 1]
    target = target.float()
    inter = (prob * target).sum()
    return 1.0 - (2.0 * inter + eps) / (prob.sum() + target.sum() + eps)


def image_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice of the spheroid class per image, averaged over images that hold a spheroid.

    Batch Dice lets a large spheroid drown a small remnant in the same batch; this one
    weights every image alike, as the per-image Jaccard distance does. Crops without a
    spheroid are left to the cross-entropy term (their Dice is saturated near 1 by any
    faint background probability, so it would add a constant, not a signal); a batch of
    such crops only gives 0.
    """
    prob = logits.float().softmax(dim=1)[:, 1]
    target = target.float()
    inter = (prob * target).sum(dim=(1, 2))
    union = prob.sum(dim=(1, 2)) + target.sum(dim=(1, 2))
    has = target.sum(dim=(1, 2)) > 0
    if not bool(has.any()):
        return logits.sum() * 0.0
    return (1.0 - (2.0 * inter[has] + eps) / (union[has] + eps)).mean()


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), target.long())


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    ce = F.cross_entropy(logits.float(), target.long(), reduction="none")
    return ((1.0 - torch.exp(-ce)) ** gamma * ce).mean()


def dice_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return dice_loss(logits, target) + cross_entropy(logits, target)


def image_dice_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return image_dice_loss(logits, target) + cross_entropy(logits, target)


LOSSES: dict[str, Any] = {
    "dice": dice_loss,
    "ce": cross_entropy,
    "focal": focal_loss,
    "dice+ce": dice_ce,
    "image-dice+ce": image_dice_ce,
}


def make_loss(name: str) -> Any:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {sorted(LOSSES)}")
    return LOSSES[name]
