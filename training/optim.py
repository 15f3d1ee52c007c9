"""Optimisers of the paper's comparison (Adam; RAdam + Lookahead) and the LR range test."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

__all__ = ["Lookahead", "lr_range_test", "make_optimizer"]


class Lookahead(torch.optim.Optimizer):
    """Lookahead (Zhang et al. 2019): every ``k`` inner steps, move slow weights ``alpha``
    of the way to the fast ones and restart from there."""

    def __init__(self, inner: torch.optim.Optimizer, *, k: int = 6, alpha: float = 0.5) -> None:
        self.inner = inner
        self.k = k
        self.alpha = alpha
        self._steps = 0
        self._slow = [[p.detach().clone() for p in g["params"]] for g in inner.param_groups]
        # share param_groups so LR schedulers drive the inner optimiser
        self.param_groups = inner.param_groups
        self.defaults = inner.defaults
        self.state = inner.state

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> Any:
        loss = self.inner.step(closure)
        self._steps += 1
        if self._steps % self.k == 0:
            for group, slow in zip(self.inner.param_groups, self._slow, strict=True):
                for p, s in zip(group["params"], slow, strict=True):
                    s.add_(p.detach() - s, alpha=self.alpha)
                    p.copy_(s)
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "slow": self._slow, "steps": self._steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self._slow = state["slow"]
        self._steps = state["steps"]


def make_optimizer(
    name: str, params: Iterator[torch.nn.Parameter], lr: float
) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "radam_lookahead":
        return Lookahead(torch.optim.RAdam(params, lr=lr))
    raise ValueError(f"unknown optimizer {name!r}; choose from adam, radam_lookahead")


def lr_range_test(
    step: Callable[[float], float], *, start: float = 1e-6, end: float = 1.0, n: int = 60
) -> tuple[float, list[tuple[float, float]]]:
    """Smith's LR range test: raise the LR exponentially, one ``step(lr) -> loss`` each.

    Returns (suggested LR, [(lr, smoothed loss)]): a tenth of the LR at the smallest
    smoothed loss, fastai's rule of thumb; stops early once the loss diverges.
    """
    history: list[tuple[float, float]] = []
    smooth, best = 0.0, math.inf
    for i in range(n):
        lr = start * (end / start) ** (i / (n - 1))
        loss = step(lr)
        smooth = loss if i == 0 else 0.8 * smooth + 0.2 * loss
        history.append((lr, smooth))
        best = min(best, smooth)
        if not math.isfinite(loss) or smooth > 4 * best:
            break
    lr_min = min(history, key=lambda h: h[1])[0]
    return lr_min / 10.0, history
