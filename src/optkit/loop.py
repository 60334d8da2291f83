"""The training loop, CPU or CUDA. Read it top to bottom: `fit` is the whole story.

Per optimizer step the loop does only what a hand-written PyTorch loop does (gather the
batch, forward, backward, step) plus writing each group's lr from a precomputed table.
Host syncs (`.item()`) happen only every `log_every` steps and at evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ContextManager, Optional

import torch
import torch.nn.functional as F
from torch import nn

from optkit.data import Dataset, batch_slices, epoch_order, eval_batches, shard
from optkit.distributed import DistInfo, mean_over_ranks
from optkit.grad import GradStep, Window, epoch_windows
from optkit.logging import RunLogger, Throughput
from optkit.preempt import StopRequest
from optkit.schedule import Scheduler, Timeline


@dataclass
class Progress:
    """Where a run is; saved in every checkpoint, so resuming continues exactly here."""

    step: int = 0  # optimizer steps done in the whole run
    epoch: int = 0  # the current epoch, 0-based
    epoch_step: int = 0  # optimizer steps done inside `epoch`
    best_acc: float = float("-inf")
    last_val: dict = field(default_factory=dict)


@dataclass
class Run:
    """Everything `fit` needs, built once by `optkit.train`."""

    model: nn.Module
    data: Dataset
    grad_step: GradStep
    scheduler: Scheduler
    timeline: Timeline
    logger: RunLogger
    dist: DistInfo
    batch_size: int
    val_batch_size: int
    shuffle: bool
    drop_last: bool
    seed: int
    accumulate: int
    log_every: int
    eval_every: int
    ckpt_every: int
    ckpt_by_epoch: bool
    autocast: Callable[[], ContextManager]
    checkpoint: Callable[..., None]  # (progress, *, last: bool, best: bool)
    group_names: list[str]
    stop: StopRequest = field(default_factory=StopRequest.never)  # set by SIGUSR2/SIGTERM/SIGUSR1


def epoch_plan(run: Run, epoch: int) -> list[Window]:
    """This rank's optimizer steps of `epoch`: a seeded order, sharded, cut into windows."""
    n = len(run.data.train)
    order = shard(epoch_order(n, epoch, run.seed, run.shuffle), run.dist.rank, run.dist.world_size)
    order = order.to(run.data.train.y.device)
    return epoch_windows(order, batch_slices(len(order), run.batch_size, run.drop_last), run.accumulate)


def fit(run: Run, progress: Progress) -> Progress:
    losses: list[torch.Tensor] = []
    throughput = Throughput()
    while progress.step < run.timeline.max_iters:
        windows = epoch_plan(run, progress.epoch)
        run.model.train()
        for window in windows[progress.epoch_step :]:
            run.scheduler.apply(progress.step)
            log_now = (progress.step + 1) % run.log_every == 0
            result = run.grad_step(window, run.data.train_batch, want_norm=log_now)
            progress.step += 1
            progress.epoch_step += 1
            losses.append(result.loss)
            throughput.add(window.samples * run.dist.world_size)
            if log_now:
                log_train(run, progress, losses, result.grad_norm, throughput)
                losses.clear()
            if not run.ckpt_by_epoch and progress.step % run.ckpt_every == 0:
                run.checkpoint(progress, last=True, best=False)
            if progress.step >= run.timeline.max_iters:
                break
            if run.stop.requested(progress.step):
                run.logger.event("preempted", progress.step, signal=run.stop.name)
                run.checkpoint(progress, last=True, best=False)
                run.stop.hand_over(progress.step)
        finished_epoch = progress.epoch_step >= len(windows)
        done = progress.step >= run.timeline.max_iters
        if finished_epoch:
            progress.epoch += 1
            progress.epoch_step = 0
        is_best = False
        if done or (finished_epoch and progress.epoch % run.eval_every == 0):
            is_best = validate(run, progress)
        save_last = done or (finished_epoch and run.ckpt_by_epoch and progress.epoch % run.ckpt_every == 0)
        if save_last or is_best:
            run.checkpoint(progress, last=save_last, best=is_best)
    return progress


def log_train(run: Run, progress: Progress, losses: list[torch.Tensor], grad_norm: Optional[torch.Tensor],
              throughput: Throughput) -> None:
    values = {"train/loss": mean_over_ranks(torch.stack(losses).mean(), run.dist).item()}
    for name, group in zip(run.group_names, run.grad_step.optimizer.param_groups):
        values[f"train/lr/{name}"] = group["lr"]
        momentum = group.get("momentum", group.get("betas", (None,))[0])
        if momentum is not None:
            values[f"train/momentum/{name}"] = momentum
    if grad_norm is not None:
        values["train/grad_norm"] = grad_norm.item()
    rate = throughput.rate()
    if rate is not None:
        values["train/samples_per_s"] = rate
    run.logger.scalars(progress.step, values)
    run.logger.progress(progress.step, {"loss": values["train/loss"], "lr": run.grad_step.optimizer.param_groups[0]["lr"]})


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, batch_size: int, autocast: Callable[[], ContextManager]) -> dict[str, float]:
    """Mean cross-entropy and top-1 accuracy on the validation split (one host sync)."""
    model.eval()
    loss_sum = torch.zeros((), device=data.val.y.device)
    correct = torch.zeros((), device=data.val.y.device, dtype=torch.int64)
    for xb, yb in eval_batches(data.val, batch_size):
        if data.input_transform is not None:
            xb = data.input_transform(xb)
        with autocast():
            logits = model(xb)
        loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum")
        correct += (logits.argmax(dim=1) == yb).sum()
    n = len(data.val)
    return {"val/loss": loss_sum.item() / n, "val/acc": correct.item() / n}


def validate(run: Run, progress: Progress) -> bool:
    """Evaluate, log, remember the best accuracy; True when this is the best so far."""
    metrics = evaluate(run.model, run.data, run.val_batch_size, run.autocast)
    run.logger.scalars(progress.step, metrics, kind="val")
    run.logger.message(f"epoch {progress.epoch} step {progress.step}: val loss {metrics['val/loss']:.4f} "
                       f"acc {metrics['val/acc']:.4f}")
    progress.last_val = metrics
    is_best = metrics["val/acc"] > progress.best_acc
    if is_best:
        progress.best_acc = metrics["val/acc"]
    return is_best
