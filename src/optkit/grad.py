"""The optimizer step: accumulation windows, loss weighting, AMP scaling, clipping.

This is the one place that knows MMCV's `OptimizerHook` / `GradientCumulativeOptimizerHook`
rules and optkit's departures from them. One step, in order:

    for each micro-batch of the window: autocast forward → (weight · loss) backward,
        DDP all-reduce skipped (`no_sync`) on all but the last micro-batch
    unscale (fp16) → clip (total norm, or elementwise) → optimizer.step → zero_grad

Window weights: every micro-batch's loss is weighted by its share of the window's samples
(`n_j / Σ n`), so k micro-batches of b samples give exactly the gradient of one batch of
k·b, a short last batch included. Windows stay inside an epoch; the last, partial one is
flushed.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager, Optional, Sequence

import torch
from torch import nn

from optkit.distributed import no_sync


@dataclass(frozen=True)
class Window:
    """The micro-batches (index tensors into the training split) of one optimizer step."""

    batches: tuple[torch.Tensor, ...]
    weights: tuple[float, ...]

    @property
    def samples(self) -> int:
        return sum(len(b) for b in self.batches)


def epoch_windows(order: torch.Tensor, slices: Sequence[slice], accumulate: int) -> list[Window]:
    """Group an epoch's micro-batches into windows of `accumulate`, the last one partial."""
    windows = []
    for start in range(0, len(slices), accumulate):
        batches = tuple(order[s] for s in slices[start : start + accumulate])
        total = sum(len(b) for b in batches)
        windows.append(Window(batches, tuple(len(b) / total for b in batches)))
    return windows


def steps_per_epoch(num_batches: int, accumulate: int) -> int:
    return -(-num_batches // accumulate)


@dataclass
class StepResult:
    loss: torch.Tensor  # the window's mean loss, detached, on the device
    grad_norm: Optional[torch.Tensor]  # pre-clip total norm when clipping or asked for


class GradStep:
    """Runs one optimizer step over a window; configured once, called every step."""

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
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.max_norm = max_norm
        self.norm_type = float(norm_type)
        self.clip_value = clip_value
        self.scaler = scaler
        self.autocast = autocast
        self.params = [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]

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
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        norm = self.clip(want_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        assert total is not None
        return StepResult(total, norm)

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
