"""Run planning: how long a run is and which micro-batches each optimizer step takes.

Everything here is a function of the config and the training set's size, so the config
check (`optkit.preview`, on the data set's static size), `plot_lr`, the lr range test and
training all plan the same run, and a resumed run re-plans exactly the run it stopped in.
It sits below the code that runs (train, loop, grad): they import it, it imports none of
them.

Which micro-batches form a window, and their weights, is `WindowPlan`'s business:

* `flush` (default): windows stay inside an epoch, the last partial one is flushed, and each
  micro-batch's loss is weighted by its share of the window's samples (`n_j / Σ n`), so k
  micro-batches of b samples give exactly the gradient of one batch of k·b, the epoch's short
  last batch included. The schedule counts optimizer steps.
* `mmcv` (MMCV 1.x `GradientCumulativeOptimizerHook`): windows of k consecutive micro-batches
  of the whole run, crossing epoch boundaries; every loss is divided by k except the run's
  final `max_iters % k` micro-batches, divided by that remainder (so each window's weight is
  `1 / len(window)`); the schedule counts micro-batches (MMCV's `runner.iter`) and a step uses
  the lr of its window's last micro-batch, the one whose `after_train_iter` steps MMCV's
  optimizer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from omegaconf import DictConfig

from optkit.data.tensors import batch_slices
from optkit.distributed import DistInfo
from optkit.errors import ConfigError
from optkit.schedule.timeline import Timeline


@dataclass(frozen=True)
class Window:
    """The micro-batches (index tensors into the training split) of one optimizer step."""

    batches: tuple[torch.Tensor, ...]
    weights: tuple[float, ...]  # each micro-batch's mean loss is multiplied by this
    schedule_step: int  # the schedule's counter for this step (see WindowPlan)

    @property
    def samples(self) -> int:
        return sum(len(b) for b in self.batches)


def steps_per_epoch(num_batches: int, accumulate: int) -> int:
    return -(-num_batches // accumulate)


@dataclass(frozen=True)
class WindowPlan:
    """Which micro-batches make up each optimizer step of the run, and their loss weights.

    Micro-batches are numbered through the run, `g = epoch · N + i`, where `slices[i]` is the
    i-th of the epoch's N micro-batches (positions in that epoch's sample order). `max_iters`
    is the run's length in the schedule's unit: optimizer steps (flush) or micro-batches
    (mmcv, MMCV's `runner.max_iters`). Everything is a function of the epoch number, so a
    resumed run rebuilds exactly the windows it stopped in.
    """

    slices: tuple[slice, ...]
    accumulate: int
    remainder: str  # flush | mmcv
    max_iters: int

    @property
    def max_steps(self) -> int:
        """Optimizer steps in the run."""
        if self.remainder == "mmcv":
            return steps_per_epoch(self.max_iters, self.accumulate)
        return self.max_iters

    def spans(self, epoch: int) -> list[range]:
        """The micro-batch numbers `g` of every window that ends in `epoch`."""
        n, k = len(self.slices), self.accumulate
        first, stop = epoch * n, (epoch + 1) * n
        if self.remainder == "flush":
            return [range(g, min(g + k, stop)) for g in range(first, stop, k)]
        starts = range(first - first % k, min(stop, self.max_iters), k)
        spans = (range(g, min(g + k, self.max_iters)) for g in starts)
        return [span for span in spans if first < span.stop <= stop]

    def epoch(self, epoch: int, order: Callable[[int], torch.Tensor]) -> list[Window]:
        """The windows that end in `epoch`; `order(e)` is epoch e's sample order (a window
        of the mmcv rule may start in an earlier epoch)."""
        n = len(self.slices)
        orders: dict[int, torch.Tensor] = {}

        def batch(g: int) -> torch.Tensor:
            e, i = divmod(g, n)
            if e not in orders:
                orders[e] = order(e)
            return orders[e][self.slices[i]]

        windows = []
        spans = self.spans(epoch)
        for j, span in enumerate(spans):
            batches = tuple(batch(g) for g in span)
            if self.remainder == "mmcv":
                weights = (1 / len(span),) * len(span)  # 1/k, or 1/(max_iters % k) in the run's last window
                windows.append(Window(batches, weights, schedule_step=span[-1]))
            else:
                sizes = [self.slices[g % n].stop - self.slices[g % n].start for g in span]  # bounded slices
                weights = tuple(size / sum(sizes) for size in sizes)
                windows.append(Window(batches, weights, schedule_step=epoch * len(spans) + j))
        return windows


def epoch_slices(cfg: DictConfig, n_train: int, info: DistInfo) -> list[slice]:
    """This rank's micro-batches of an epoch, as positions in its shard of the epoch order."""
    shard_len = math.ceil(n_train / info.world_size)
    slices = batch_slices(shard_len, cfg.data.batch_size, cfg.data.drop_last)
    if not slices:
        raise ConfigError("data.batch_size", f"larger than the {shard_len} training samples with drop_last",
                          cfg.data.batch_size)
    return slices


def make_timeline(cfg: DictConfig, n_train: int, info: DistInfo,
                  iters_per_epoch: Optional[int] = None) -> Timeline:
    """The schedule's clock: optimizer steps per epoch (this rank's micro-batches /
    accumulate, unless given) and in the run; with `grad.remainder=mmcv` micro-batches, as
    MMCV's `runner.iter` counts them (so `trainer.max_iters` and iteration-valued settings do
    too). `optkit.plot_lr` calls this too, with the data set's static size."""
    if iters_per_epoch is None:
        num_batches = len(epoch_slices(cfg, n_train, info))
        iters_per_epoch = (num_batches if cfg.grad.remainder == "mmcv"
                           else steps_per_epoch(num_batches, cfg.grad.accumulate))
    max_iters = cfg.trainer.max_iters or cfg.trainer.max_epochs * iters_per_epoch
    return Timeline(iters_per_epoch, max_iters)
