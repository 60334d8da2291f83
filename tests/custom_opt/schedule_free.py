"""A small schedule-free SGD (Defazio et al. 2024, "The Road Less Scheduled"), written after
`schedulefree.SGDScheduleFree` (constant lr, no warmup, uniform averaging: c_{k+1} = 1/(k+1)),
for tests that need an optimizer with `train()` / `eval()` without that package.

The parameters hold y = (1 − β)·z + β·x while training (`train()`) and the average x while
evaluating (`eval()`); a step in eval mode is an error, and the optimizer starts in eval mode,
as schedulefree's do.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch.optim import Optimizer


class ScheduleFreeSGD(Optimizer):
    def __init__(self, params, lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, k=0, train_mode=False))

    @torch.no_grad()
    def eval(self) -> None:
        """Parameters y → x = lerp(y, z, 1 − 1/β)."""
        for group in self.param_groups:
            if group["train_mode"]:
                for p in group["params"]:
                    if "z" in self.state[p]:
                        p.lerp_(self.state[p]["z"], 1 - 1 / group["momentum"])
                group["train_mode"] = False

    @torch.no_grad()
    def train(self) -> None:
        """Parameters x → y = lerp(x, z, 1 − β)."""
        for group in self.param_groups:
            if not group["train_mode"]:
                for p in group["params"]:
                    if "z" in self.state[p]:
                        p.lerp_(self.state[p]["z"], 1 - group["momentum"])
                group["train_mode"] = True

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        if not self.param_groups[0]["train_mode"]:
            raise RuntimeError("ScheduleFreeSGD stepped in eval mode: call train() first")
        for group in self.param_groups:
            lr, beta, k = group["lr"], group["momentum"], group["k"]
            ckp1 = 1 / (k + 1)
            for y in group["params"]:
                if y.grad is None:
                    continue
                z = self.state[y].setdefault("z", y.clone())
                grad = y.grad.add(y, alpha=group["weight_decay"]) if group["weight_decay"] else y.grad
                y.lerp_(z, ckp1)
                y.add_(grad, alpha=lr * (beta * (1 - ckp1) - 1))
                z.sub_(grad, alpha=lr)
            group["k"] = k + 1
        return None
