"""The tutorial's `MyOptimizer` with arguments a, b, c, made concrete.

    python train.py optimizer=custom optimizer._target_=custom_opt.my_optimizer.MyOptimizer \
        +optimizer.lr=0.05 +optimizer.a=0.9 +optimizer.b=1e-4 +optimizer.c=1.0 \
        custom_imports=[custom_opt.my_optimizer]
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch.optim import Optimizer

IMPORTED = True  # custom_imports tests look for this module in sys.modules


class MyOptimizer(Optimizer):
    """SGD with momentum `a`, L2 weight decay `b`, and each update clamped to ±`c`.
    `lr` is a group key, so optkit's schedules drive it like any torch optimizer."""

    def __init__(self, params, lr: float = 0.01, a: float = 0.9, b: float = 0.0, c: float = 1.0) -> None:
        if lr <= 0 or not 0 <= a < 1 or b < 0 or c <= 0:
            raise ValueError(f"bad MyOptimizer arguments lr={lr} a={a} b={b} c={c}")
        super().__init__(params, {"lr": lr, "a": a, "b": b, "c": c})

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad.add(p, alpha=group["b"])
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.mul_(group["a"]).add_(d)
                p.add_(buf.clamp(-group["c"], group["c"]), alpha=-group["lr"])
        return loss
