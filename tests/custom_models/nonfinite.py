"""An MLP that goes non-finite on purpose, to test `trainer.nonfinite` end to end.

Use it from the command line as `model._target_=tests.custom_models.nonfinite.NonFiniteMLP
+model.nan_at=K` (run from the repository root, so `tests` is importable). Its K-th
training forward of this process (1-based) makes the loss NaN (`what=loss`) or leaves the
loss finite and sends a NaN gradient back (`what=gradient`); with `repeat=true` every later
one does too. Evaluation forwards are never touched and not counted.
"""
from __future__ import annotations

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


class NonFiniteMLP(MLP):
    def __init__(self, *, nan_at: int, what: str = "loss", repeat: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.nan_at, self.what, self.repeat = nan_at, what, repeat
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if not self.training:
            return out
        self.calls += 1
        if self.calls == self.nan_at or (self.repeat and self.calls > self.nan_at):
            return out * float("nan") if self.what == "loss" else NaNGradient.apply(out)
        return out
