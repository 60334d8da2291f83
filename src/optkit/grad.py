"""The optimizer step: accumulation windows, loss weighting, AMP scaling, clipping.

This is the one place that knows MMCV's `OptimizerHook` / `GradientCumulativeOptimizerHook`
rules and optkit's departures from them. One step, in order:

    for each micro-batch of the window: autocast forward → (weight · loss) backward,
        DDP all-reduce skipped (`no_sync`) on all but the last micro-batch
    unscale (fp16) → clip (total norm, then elementwise) → finite? → optimizer.step → zero_grad

A step whose loss or gradient is not finite is not applied (`trainer.nonfinite`, decided
by the loop from `StepResult.nonfinite`): the gradients are dropped, the optimizer and its
state are untouched. The check reads one flag on the host per step (a sync on CUDA); the
gradient's finiteness comes from its total norm, which clipping computes anyway (without
clipping it is one extra foreach pass). Under fp16 the GradScaler keeps its own rule for
non-finite gradients (an overflow of the loss scale: step skipped, scale backed off,
`train/skipped_steps`), so only a non-finite loss counts as non-finite there.

Which micro-batches form a window, and their weights, is `optkit.plan.WindowPlan`'s business
(the `flush` and `mmcv` rules are described there).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, ContextManager, Optional

import torch
from torch import nn

from optkit.distributed import no_sync
from optkit.errors import warn
from optkit.plan import Window, WindowPlan  # noqa: F401  (optkit.grad.WindowPlan, as before the move)


def warn_batchnorm(model: nn.Module, accumulate: int) -> None:
    """BatchNorm normalises each micro-batch by its own statistics: the one way k×b differs
    from the big batch (MMCV warns the same)."""
    if accumulate > 1 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        warn(f"grad.accumulate={accumulate} with BatchNorm: statistics are per micro-batch, "
             "so the result differs slightly from the big batch")


@dataclass
class StepResult:
    loss: torch.Tensor  # the window's weighted mean loss, detached, on the device
    grad_norm: Optional[torch.Tensor]  # pre-clip total norm when clipping, checking or asked for
    nonfinite: Optional[str] = None  # "loss" or "gradient" when the step was not applied


class GradStep:
    """Runs one optimizer step over a window; configured once, called every step.

    One host sync per step, the non-finite check (`check_finite=False` leaves it out, for
    benchmarks); the norm, the clip factor and fp16's skipped-step count stay on the
    device until the loop reads them at a log point (`amp_values`).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        max_norm: Optional[float] = None,
        norm_type: float = 2.0,
        clip_value: Optional[float] = None,
        scaler: Optional[torch.amp.GradScaler] = None,
        autocast: Callable[[], ContextManager] = contextlib.nullcontext,
        check_finite: bool = True,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.max_norm = max_norm
        self.norm_type = float(norm_type)
        self.clip_value = clip_value
        self.scaler = scaler
        self.autocast = autocast
        self.check_finite = check_finite
        self.params = [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]
        self.skipped: Optional[torch.Tensor] = None  # fp16 steps skipped since the last read

    def __call__(self, window: Window, batch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                 want_norm: bool = False) -> StepResult:
        """`batch(index)` gives a micro-batch's (inputs, targets) on the device."""
        last = len(window.batches) - 1
        total: Optional[torch.Tensor] = None
        for j, (index, weight) in enumerate(zip(window.batches, window.weights)):
            inputs, targets = batch(index)
            with contextlib.nullcontext() if j == last else no_sync(self.model):
                with self.autocast():
                    loss = self.loss_fn(self.model(inputs), targets)
                if weight != 1.0:
                    loss = loss * weight
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            total = loss.detach() if total is None else total + loss.detach()
        assert total is not None
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        check_grad = self.check_finite and self.scaler is None
        norm = self.clip(want_norm or check_grad)
        nonfinite = self.find_nonfinite(total, norm if check_grad else None) if self.check_finite else None
        if self.scaler is not None:
            if nonfinite is None:
                self.scaler.step(self.optimizer)
                self.count_skipped()
            self.scaler.update()  # after unscale_, even without a step: the scaler's per-step bookkeeping
        elif nonfinite is None:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepResult(total, norm, nonfinite)

    @staticmethod
    def find_nonfinite(loss: torch.Tensor, norm: Optional[torch.Tensor]) -> Optional[str]:
        """"loss" or "gradient" (its total norm) when one is inf or NaN. One host read of
        their sum (non-finite exactly when one of them is; the norm is >= 0), a second only
        to name the culprit. Under DDP the gradient is all-reduced, so every rank agrees."""
        if math.isfinite((loss if norm is None else loss + norm).item()):
            return None
        return "loss" if not math.isfinite(loss.item()) else "gradient"

    def clip(self, want_norm: bool) -> Optional[torch.Tensor]:
        """Clip the accumulated, unscaled gradients; return their pre-clip total norm (a
        device tensor, no host sync) when clipping by norm or when `want_norm`."""
        norm = None
        if self.max_norm is not None:
            norm = nn.utils.clip_grad_norm_(self.params, self.max_norm, self.norm_type, foreach=True)
        elif want_norm:
            grads = [p.grad for p in self.params if p.grad is not None]
            norm = nn.utils.get_total_norm(grads, self.norm_type, foreach=True)
        if self.clip_value is not None:
            nn.utils.clip_grad_value_(self.params, self.clip_value, foreach=True)
        return norm

    def count_skipped(self) -> None:
        """GradScaler skips a step whose unscaled gradients hold inf/NaN; add 1 on the device
        when it did. (`_found_inf_per_device` is the flag `step` itself consulted; reading it
        between `step` and `update` is what torch's fused optimizers do.)"""
        assert self.scaler is not None
        found = sum(self.scaler._found_inf_per_device(self.optimizer).values())
        skipped = (found > 0).to(torch.int64)
        self.skipped = skipped if self.skipped is None else self.skipped + skipped

    def amp_values(self) -> dict[str, float]:
        """fp16 loss-scaling scalars for a log point (host syncs; {} without a scaler):
        steps skipped since the previous read and the current loss scale."""
        if self.scaler is None:
            return {}
        skipped = 0 if self.skipped is None else int(self.skipped.item())
        self.skipped = None
        return {"train/skipped_steps": skipped, "train/loss_scale": self.scaler.get_scale()}
