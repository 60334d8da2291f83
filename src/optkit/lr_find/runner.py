"""The lr range test's runner: builds what training builds and runs the test on it.

The config is composed and checked as train.py composes it (same overrides, same one-line
errors, exit 2). Data, model, optimizer (paramwise
groups), AMP, clipping and accumulation come from `optkit.train.build_components` and
`build_grad_step`, so the test trains exactly what training would. It starts from the
configured state: a fresh init, or the checkpoint of `trainer.resume=PATH` (`auto` means a
fresh init: the tool has no run directory to look in), with the data order from the start of
the checkpoint's epoch. Then `num_iters` optimizer steps, the base lr rising along the ramp
(`optkit.lr_find.algorithm`), one value per optimizer step (the micro-batches of a `grad.accumulate` window share it). Each
param group gets `lr_i · lr_mult_g`, its multiplier of `optimizer.lr`, so groups
keep their ratios and the suggestion is a value for `optimizer.lr`. The schedule, warmup and
momentum policy are not applied: momentum stays as configured.

Host syncs: the losses stay on the device; every `logging.log_every` steps (and at the end)
they are read in one `.tolist()`, the only sync beyond the training step's own, then smoothed
and checked for divergence. Up to `log_every − 1` steps may so run past the divergence; they
are dropped, and the curve does not depend on `log_every`.

Nothing on disk changes but the PNG and the JSON, and `range_test` puts the model, optimizer,
GradScaler, train/eval flags and RNGs back as they were (`restored`).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

import numpy as np

from optkit.errors import ConfigError
from optkit.lr_find.algorithm import Curve, RangeTest, SmoothedLoss

if TYPE_CHECKING:  # torch is imported when the test runs, not for --help or a bad argument
    import torch
    from omegaconf import DictConfig
    from torch import nn

    from optkit.data import DataSource
    from optkit.grad import GradStep
    from optkit.plan import Window, WindowPlan


def lr_key(cfg: DictConfig) -> str:
    """The config key of the lr the test sweeps: a wrapper such as SAM keeps it in its base
    optimizer's node (`optimizer.base.lr`)."""
    node = cfg.optimizer
    return "optimizer.base.lr" if "lr" not in node and "base" in node else "optimizer.lr"


def group_ratios(groups: Sequence[dict[str, Any]], base_lr: Optional[float], key: str = "optimizer.lr") -> list[float]:
    """Each group's paramwise lr multiplier of the base lr `key` (`lr_mult`, set where the
    groups were built: optkit.schedule.keys)."""
    if base_lr is None or not base_lr > 0:
        raise ConfigError(key, f"must be > 0 for the lr range test (it scales each group's multiplier of {key})",
                          base_lr)
    return [group["lr_mult"] for group in groups]


@contextlib.contextmanager
def restored(model: nn.Module, optimizer: torch.optim.Optimizer,
             scaler: Optional[torch.amp.GradScaler] = None) -> Iterator[None]:
    """Put back, whatever happens inside: weights and buffers, the optimizer's state and
    groups (lr included), the GradScaler, each module's train/eval flag and the RNGs. A
    state_dict round trip through deep copies on the same device: for its duration, a second
    copy of the model and the optimizer state."""
    from optkit import checkpoint

    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    scaler_state = None if scaler is None else copy.deepcopy(scaler.state_dict())
    modes = [module.training for module in model.modules()]
    rng = checkpoint.rng_state()
    try:
        yield
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        if scaler is not None:
            scaler.load_state_dict(scaler_state)
        for module, mode in zip(model.modules(), modes):
            module.training = mode
        checkpoint.set_rng_state(rng)


def range_test(model: nn.Module, grad_step: GradStep, windows: Iterator[Window],
               batch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], settings: RangeTest,
               ratios: Sequence[float], check_every: int) -> Curve:
    """Run the test with a built `GradStep` (its optimizer's groups get `lr_i · ratio`) over
    `windows`; model, optimizer and scaler are restored afterwards."""
    import torch

    optimizer = grad_step.optimizer
    lrs = settings.lrs()
    tracker = SmoothedLoss(settings.smooth, settings.diverge)
    losses: list[float] = []
    pending: list[torch.Tensor] = []
    stopped_at = None
    with restored(model, optimizer, grad_step.scaler):
        model.train()
        start = time.perf_counter()
        for i, window in zip(range(settings.num_iters), windows):
            for group, ratio in zip(optimizer.param_groups, ratios):
                group["lr"] = float(lrs[i]) * ratio
            pending.append(grad_step(window, batch).loss)
            if (i + 1) % check_every and i + 1 < settings.num_iters:
                continue
            for loss in torch.stack(pending).float().tolist():  # the interval's one host sync
                losses.append(loss)
                if tracker.add(loss):
                    stopped_at = len(losses) - 1
                    break
            pending.clear()
            if stopped_at is not None:
                break
        seconds = time.perf_counter() - start
    n = len(losses)
    return Curve(lrs[:n], np.array(losses), np.array(tracker.values), stopped_at, seconds)


def training_windows(plan: WindowPlan, data: DataSource, seed: int, shuffle: bool, first_epoch: int,
                     num_iters: int) -> Iterator[Window]:
    """Training's optimizer steps from the start of `first_epoch` on, as many as wanted. With
    `grad.remainder=mmcv` the run's end, whose last window MMCV rescales, is moved past the
    test's `num_iters` steps."""
    from optkit.data import epoch_order

    if plan.remainder == "mmcv":
        end = first_epoch * len(plan.slices) + (num_iters + 1) * plan.accumulate
        plan = dataclasses.replace(plan, max_iters=end)

    def order(e: int) -> torch.Tensor:
        return epoch_order(len(data.train), e, seed, shuffle).to(data.index_device)

    epoch = first_epoch
    while True:
        windows = plan.epoch(epoch, order)
        data.begin_epoch(epoch, windows, seed, 0)  # a streamed data set queues them in its loader
        yield from windows
        epoch += 1


@dataclass
class Result:
    curve: Curve
    settings: RangeTest
    base_lr: float
    groups: list[tuple[str, float]]  # (name, lr multiplier)
    device: str
    start: str  # "fresh init" or the checkpoint's path
    lr_key: str = "optimizer.lr"  # the config key the suggestion is for


def find_lr(cfg: DictConfig, settings: RangeTest) -> Result:
    """The range test of a composed config: built as training builds it, from its state."""
    from omegaconf import OmegaConf

    from optkit import distributed, resume, validate
    from optkit.loop import Progress
    from optkit.train import build_components, build_grad_step, pick_device

    validate.check(cfg)
    info = distributed.DistInfo()  # one process, whatever launched it
    device = pick_device(cfg.trainer.device, info)
    built = build_components(cfg, info, device)
    key = lr_key(cfg)
    base_lr = OmegaConf.select(cfg, key)
    ratios = group_ratios(built.optimizer.param_groups, base_lr, key)  # before a checkpoint's groups replace them
    progress, start = Progress(), "fresh init"
    if cfg.trainer.resume not in (None, "auto"):
        found = resume.find(cfg.trainer.resume, Path.cwd())
        progress, start = resume.restore(found, built.model, built.optimizer, built.scaler, cfg), str(found[0])
    # without training's non-finite check: divergence is what the test looks for, and it reads
    # its losses once per logging interval (the check would read every step)
    grad_step = build_grad_step(cfg, built.model, built.optimizer, built.scaler, built.autocast, check_finite=False)
    windows = training_windows(built.windows, built.data, cfg.trainer.seed, cfg.data.shuffle, progress.epoch,
                               settings.num_iters)
    curve = range_test(built.model, grad_step, windows, built.train_batch, settings, ratios,
                       cfg.logging.log_every)
    return Result(curve, settings, float(base_lr), list(zip(built.group_names, ratios)), str(device), start, key)
