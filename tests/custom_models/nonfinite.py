"""An MLP that goes non-finite on purpose, to test `trainer.nonfinite` end to end.

Use it from the command line as `model._target_=tests.custom_models.nonfinite.NonFiniteMLP
+model.nan_at=K` (run from the repository root, so `tests` is importable). Its K-th
training forward of this process (1-based) makes the loss NaN (`what=loss`), leaves the
loss finite and sends a NaN gradient back (`what=gradient`), or makes the loss infinite and
sends a finite gradient back (`what=inf_loss`: a rank's own loss is then the only sign, as
under fp16, where only the loss is checked); with `repeat=true` every later one does too.
With `+model.rank=R` only rank R of a torchrun launch (its `RANK`) does it. Evaluation
forwards are never touched and not counted.
"""
from __future__ import annotations

import os
from typing import Optional

import torch

from optkit.models import MLP


class NaNGradient(torch.autograd.Function):
    """Identity forward; NaN backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return torch.full_like(grad, float("nan"))


class InfLogit(torch.autograd.Function):
    """+inf in every sample's first logit forward (an infinite cross-entropy); the gradient
    coming back made finite, so only the loss shows it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out[:, 0] = float("inf")
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)


BREAK = {"loss": lambda out: out * float("nan"), "gradient": NaNGradient.apply, "inf_loss": InfLogit.apply}


class NonFiniteMLP(MLP):
    def __init__(self, *, nan_at: int, what: str = "loss", repeat: bool = False, rank: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.nan_at, self.what, self.repeat = nan_at, what, repeat
        self.here = rank is None or int(os.environ.get("RANK", "0")) == rank
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if not self.training:
            return out
        self.calls += 1
        if self.here and (self.calls == self.nan_at or (self.repeat and self.calls > self.nan_at)):
            return BREAK[self.what](out)
        return out
