"""The tutorial's `MyOptimizer` with arguments a, b and c, made concrete: Lion (Chen et al.
2023, "Symbolic Discovery of Optimization Algorithms"), with a = beta1, b = beta2 and
c = decoupled weight decay.

    python train.py optimizer=custom optimizer._target_=examples.my_optimizer.MyOptimizer \
        +optimizer.lr=1e-4 +optimizer.a=0.9 +optimizer.b=0.99 +optimizer.c=0.01 \
        custom_imports=[examples.my_optimizer]

Per parameter, with gradient g and momentum buffer m:

    update = sign(a·m + (1 − a)·g)
    p ← p − lr·(update + c·p)
    m ← b·m + (1 − b)·g

No registry: optkit builds any class named by `optimizer._target_`. `lr` is a param-group
key, so optkit's schedules drive it like any torch optimizer; Lion wants an lr 3-10x
smaller than AdamW's and a weight decay 3-10x larger.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch.optim import Optimizer


class MyOptimizer(Optimizer):
    def __init__(self, params, lr: float = 1e-4, a: float = 0.9, b: float = 0.99, c: float = 0.0) -> None:
        if not lr > 0 or not 0 <= a < 1 or not 0 <= b < 1 or c < 0:
            raise ValueError(f"MyOptimizer needs lr > 0, 0 <= a, b < 1 and c >= 0 (got lr={lr}, a={a}, b={b}, c={c})")
        super().__init__(params, {"lr": lr, "a": a, "b": b, "c": c})

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        loss = None if closure is None else torch.enable_grad()(closure)()  # torch's closure convention
        for group in self.param_groups:
            lr, a, b, c = group["lr"], group["a"], group["b"], group["c"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault("exp_avg", torch.zeros_like(p))
                update = m.mul(a).add_(p.grad, alpha=1 - a).sign_()
                p.mul_(1 - lr * c).add_(update, alpha=-lr)
                m.mul_(b).add_(p.grad, alpha=1 - b)
        return loss
