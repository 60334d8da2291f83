"""Optimizer steps that evaluate the window more than once: closure optimizers and SAM.

`GradStep` computes one gradient per optimizer step. Two kinds of optimizer need more, and
each gets its own step object, chosen once when the run is built (`step_class`), so the
plain step's per-step path has no branch for them:

* **Closure optimizers** (`torch.optim.LBFGS`, or any optimizer whose `step` requires a
  closure): `ClosureStep` hands `step` a closure that zeroes the gradients, runs the
  micro-batch's forward and backward (under autocast), clips, and returns the loss; LBFGS
  calls it up to `max_eval` times per step (Lightning's `closure` does the same, clipping
  included). The micro-batch is fetched once. One micro-batch per step: LBFGS's line
  search needs the whole loss at every evaluation, so `grad.accumulate > 1` is refused, and
  so is fp16 (GradScaler cannot step a closure); bf16 autocast works. The non-finite check
  is on the first evaluation (the loss and gradient at the step's starting weights, as
  for any step): if either is inf or NaN the closure stops LBFGS before it moves anything.
* **SAM** (`optkit.optim.SAM`): `SAMStep` runs the window's forward/backward at w,
  perturbs the weights to w + e, runs the same window again (BatchNorm running statistics
  are not updated a second time, as davda54/sam advises), restores w exactly, and then takes `GradStep`'s path: unscale (fp16), clip
  (the second gradient, the one the base optimizer steps with), check, step. Accumulation
  runs both passes over all micro-batches of the window, so k×b is SAM on the big batch.
  Under fp16 the perturbation uses the scaled first gradient (e is scale-invariant); an
  overflow there makes e non-finite, hence the second gradient, and GradScaler skips the
  step and backs off as for any overflow. The loss reported is the first pass's, L(w).
"""
from __future__ import annotations

import contextlib
import inspect
from typing import Callable, Iterator, Optional

import torch
from torch import nn

from optkit.grad import GradStep, StepResult
from optkit.plan import Window
from optkit.optim.sam import SAM

Batch = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def needs_closure(optimizer_class: type) -> bool:
    """Whether `optimizer_class.step` requires a closure (torch.optim.LBFGS's does)."""
    closure = inspect.signature(optimizer_class.step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


def step_class(optimizer: torch.optim.Optimizer) -> type[GradStep]:
    """The step object an optimizer trains with."""
    if isinstance(optimizer, SAM):
        return SAMStep
    return ClosureStep if needs_closure(type(optimizer)) else GradStep


class NonFiniteStart(Exception):
    """Raised inside a closure: the loss or gradient at the step's starting weights is not finite."""

    def __init__(self, what: str) -> None:
        self.what = what


class ClosureStep(GradStep):
    """One optimizer step of a closure optimizer over a one-micro-batch window (see module)."""

    def __call__(self, window: Window, batch: Batch, want_norm: bool = False) -> StepResult:
        fetched = batch(window.batches[0])
        first: list[tuple[torch.Tensor, Optional[torch.Tensor]]] = []  # (loss, norm) of the first evaluation

        def closure() -> torch.Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.backward(window, lambda _index: fetched)
            if first:
                self.clip(False)
                return loss
            norm = self.clip(want_norm or self.check_finite)
            first.append((loss, norm))
            nonfinite = self.find_nonfinite(loss, norm) if self.check_finite else None
            if nonfinite is not None:
                raise NonFiniteStart(nonfinite)
            return loss

        try:
            self.optimizer.step(closure)
            nonfinite = None
        except NonFiniteStart as stop:
            nonfinite = stop.what
        self.optimizer.zero_grad(set_to_none=True)
        loss, norm = first[0]
        return StepResult(loss, norm, nonfinite)


@contextlib.contextmanager
def frozen_running_stats(norms: list[nn.modules.batchnorm._BatchNorm]) -> Iterator[None]:
    """BatchNorm layers normalise by the batch as usual, and their running statistics and
    `num_batches_tracked` are put back afterwards (SAM's second pass; a non-finite pass
    leaves no trace in them)."""
    buffers = [b for m in norms for b in m.buffers(recurse=False)]
    saved = [b.clone() for b in buffers]
    try:
        yield
    finally:
        for buffer, value in zip(buffers, saved):
            buffer.copy_(value)


class SAMStep(GradStep):
    """One SAM step: two passes over the window, then GradStep's clip/AMP/step (see module)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, *args, **kwargs) -> None:
        super().__init__(model, optimizer, *args, **kwargs)
        self.sam: SAM = optimizer  # type: ignore[assignment]
        self.norms = [m for m in model.modules()
                      if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]

    def __call__(self, window: Window, batch: Batch, want_norm: bool = False) -> StepResult:
        total = self.backward(window, batch)
        self.sam.perturb()
        self.optimizer.zero_grad(set_to_none=True)
        with frozen_running_stats(self.norms):
            self.backward(window, batch)
        self.sam.restore()
        return self.apply(total, want_norm)
