"""An optimizer of the project's own: Signum (Bernstein et al. 2018, "signSGD: Compressed
Optimisation for Non-Convex Problems"), the sign of a momentum buffer,

    m ← beta·m + (1 − beta)·g
    p ← p − lr·sign(m)

`lr` is a param-group key, so optkit's schedules drive it as they drive torch's optimizers."""
from __future__ import annotations

import torch
from torch.optim import Optimizer


class Signum(Optimizer):
    def __init__(self, params, lr: float = 1e-3, beta: float = 0.9) -> None:
        super().__init__(params, {"lr": lr, "beta": beta})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault("m", torch.zeros_like(p))
                m.mul_(group["beta"]).add_(p.grad, alpha=1 - group["beta"])
                p.add_(torch.sign(m), alpha=-group["lr"])
