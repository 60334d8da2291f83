"""The training loop, CPU or CUDA. Read it top to bottom: `fit` is the whole story.

Per optimizer step the loop does only what a hand-written PyTorch loop does (gather the
batch, forward, backward, step) plus writing each group's lr from a precomputed table.
Host syncs (`.item()`) happen every `log_every` steps, at evaluation, and once per step for
the non-finite check (`GradStep`); a step that was not applied is counted by `skipped`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterable, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from optkit.averaging.hooks import Averaging
from optkit.data import DataSource, epoch_order, shard
from optkit.distributed import DistInfo, mean_over_ranks, sum_over_ranks, unwrap
from optkit.errors import NonFiniteError
from optkit.grad import GradStep
from optkit.logging import RunLogger, Throughput
from optkit.optim.modes import eval_weights, train_mode
from optkit.plan import Window, WindowPlan
from optkit.preempt import StopRequest
from optkit.pruning import TrialPruning
from optkit.schedule import PlateauTracker, Scheduler


@dataclass
class Progress:
    """Where a run is; saved in every checkpoint, so resuming continues exactly here."""

    step: int = 0  # optimizer steps done in the whole run
    epoch: int = 0  # the current epoch, 0-based
    epoch_step: int = 0  # optimizer steps done inside `epoch`
    best: Optional[float] = None  # the best value of trainer.monitor so far (None: not validated yet)
    best_epoch: int = 0  # epochs done when `best` was measured (the end-of-run summary names it)
    last_val: dict = field(default_factory=dict)
    nonfinite_steps: int = 0  # steps not applied: their loss or gradient was inf or NaN
    nonfinite_streak: int = 0  # how many of those came last, in a row
    plateau: dict = field(default_factory=dict)  # schedule=plateau: ReduceLROnPlateau's state


@dataclass
class Run:
    """Everything `fit` needs, built once by `optkit.train`."""

    model: nn.Module
    data: DataSource  # in memory (optkit.data.Dataset) or streamed (optkit.data.StreamData)
    grad_step: GradStep
    scheduler: Scheduler
    windows: WindowPlan  # which micro-batches each optimizer step takes
    logger: RunLogger
    dist: DistInfo
    val_batch_size: int
    shuffle: bool
    seed: int
    log_every: int
    eval_every: int
    ckpt_every: int
    ckpt_by_epoch: bool
    autocast: Callable[[], ContextManager]
    checkpoint: Callable[..., None]  # (progress, *, last: bool, best: bool)
    group_names: list[str]
    nonfinite: str = "stop"  # trainer.nonfinite: stop | skip
    max_nonfinite: int = 10  # skip: stop after this many in a row
    stop: StopRequest = field(default_factory=StopRequest.never)  # set by SIGUSR2/SIGTERM/SIGUSR1
    pruning: TrialPruning = field(default_factory=TrialPruning.never)  # an Optuna trial's pruner
    averaging: Averaging = field(default_factory=Averaging)  # model EMA or SWA (optkit.averaging)
    plateau: Optional[PlateauTracker] = None  # schedule=plateau: observes each validation
    train_batch: Optional[Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = None  # data.train_batch
    monitor: str = "val/acc"  # trainer.monitor: the metric that picks best.pt
    monitor_mode: str = "max"  # trainer.monitor_mode: max | min


def epoch_plan(run: Run, epoch: int) -> list[Window]:
    """This rank's optimizer steps that end in `epoch`: seeded orders, sharded, cut into windows."""

    def order(e: int) -> torch.Tensor:
        full = epoch_order(len(run.data.train), e, run.seed, run.shuffle)
        return shard(full, run.dist.rank, run.dist.world_size).to(run.data.index_device)

    return run.windows.epoch(epoch, order)


def training_inputs(run: Run, epoch: int) -> Iterator[torch.Tensor]:
    """The inputs of this rank's training micro-batches of `epoch`, through the training data
    path (SWA recomputes BatchNorm statistics over them)."""
    for window in epoch_plan(run, epoch):
        for index in window.batches:
            yield run.data.train_batch(index)[0]


def fit(run: Run, progress: Progress) -> Progress:
    losses: list[torch.Tensor] = []
    throughput = Throughput()
    train_batch = run.train_batch or run.data.train_batch
    train_mode(run.grad_step.optimizer)
    if run.plateau is not None:
        run.plateau.restore(progress.plateau)
    while progress.step < run.windows.max_steps:
        windows = epoch_plan(run, progress.epoch)
        run.data.begin_epoch(progress.epoch, windows[progress.epoch_step :], run.seed, run.dist.rank)
        run.averaging.begin_epoch(progress.epoch)
        run.model.train()
        for window in windows[progress.epoch_step :]:
            run.scheduler.apply(window.schedule_step)
            log_now = (progress.step + 1) % run.log_every == 0
            result = run.grad_step(window, train_batch, want_norm=log_now)
            progress.step += 1
            progress.epoch_step += 1
            run.averaging.after_step(progress.step)
            if result.nonfinite is None:
                progress.nonfinite_streak = 0
                losses.append(result.loss)
            else:
                skipped(run, progress, result.nonfinite)
            throughput.add(window.samples * run.dist.world_size)
            if log_now:
                log_train(run, progress, losses, result.grad_norm, throughput)
                losses.clear()
            if progress.step >= run.windows.max_steps:
                break  # the run's end saves last.pt below, after the final validation
            if not run.ckpt_by_epoch and progress.step % run.ckpt_every == 0:
                run.checkpoint(progress, last=True, best=False)
            if run.stop.requested(progress.step):
                run.logger.event("preempted", progress.step, signal=run.stop.name)
                run.checkpoint(progress, last=True, best=False)
                run.stop.hand_over(progress.step)
        finished_epoch = progress.epoch_step >= len(windows)
        done = progress.step >= run.windows.max_steps
        if finished_epoch or done:
            run.averaging.end_epoch(progress.epoch)
        if finished_epoch:
            progress.epoch += 1
            progress.epoch_step = 0
        is_best = pruned = False
        if done or (finished_epoch and progress.epoch % run.eval_every == 0):
            is_best = validate(run, progress)
            pruned = run.pruning.should_stop(progress.last_val["val/acc"], progress.epoch, last=done)
        if done:
            run.averaging.finish(unwrap(run.model))
        save_last = done or pruned or (finished_epoch and run.ckpt_by_epoch and progress.epoch % run.ckpt_every == 0)
        if save_last or is_best:
            run.checkpoint(progress, last=save_last, best=is_best)
        if pruned:
            run.logger.event("pruned", progress.step, epoch=progress.epoch)
            break
    return progress


def skipped(run: Run, progress: Progress, what: str) -> None:
    """The step just counted was not applied: its `what` (loss or gradient) was not finite.
    It still counts as a step (its batch is used up and the schedule moves on, as with
    fp16's skipped steps). Under `stop`, or after `max_nonfinite` in a row under `skip`:
    save last.pt, which holds the weights and optimizer state from before that update (a
    resumed run goes on with the next batch), and raise `NonFiniteError`."""
    progress.nonfinite_steps += 1
    progress.nonfinite_streak += 1
    where = f"step {progress.step} (epoch {progress.epoch})"
    if run.nonfinite == "skip" and progress.nonfinite_streak < run.max_nonfinite:
        run.logger.message(f"non-finite {what} at {where}: update skipped "
                           f"({progress.nonfinite_streak} in a row; trainer.max_nonfinite={run.max_nonfinite})")
        return
    run.checkpoint(progress, last=True, best=False)
    if run.nonfinite == "stop":
        reason, hint = f"non-finite {what} at {where}", "trainer.nonfinite=skip skips such steps"
    else:
        reason = f"{progress.nonfinite_streak} steps in a row had a non-finite loss or gradient (the last: {what} at {where})"
        hint = "lower the lr or clip the gradients (grad=clip)"
    raise NonFiniteError(f"{reason}; last.pt holds the weights from before that update ({hint})")


def group_scalars(names: Sequence[str], groups: Sequence[dict], scheduled: Iterable[str]) -> dict[str, float]:
    """`train/lr/<group>`, `train/momentum/<group>` (momentum or beta1, where the optimizer
    has one) and `train/<key>/<group>` for every other scheduled key (weight_decay, ...)."""
    others = [key for key in scheduled if key not in ("lr", "momentum")]
    values = {}
    for name, group in zip(names, groups):
        values[f"train/lr/{name}"] = group["lr"]
        momentum = group.get("momentum", group.get("betas", (None,))[0])
        if momentum is not None:
            values[f"train/momentum/{name}"] = momentum
        for key in others:
            values[f"train/{key}/{name}"] = group[key]
    return values


def log_train(run: Run, progress: Progress, losses: list[torch.Tensor], grad_norm: Optional[torch.Tensor],
              throughput: Throughput) -> None:
    # nan: every step was skipped; under DDP the mean over the ranks (every rank takes part)
    loss = torch.stack(losses).mean() if losses else torch.full((), float("nan"), device=run.data.index_device)
    values = {"train/loss": mean_over_ranks(loss, run.dist).item()}
    values.update(group_scalars(run.group_names, run.grad_step.optimizer.param_groups, run.scheduler.keys))
    if grad_norm is not None:
        values["train/grad_norm"] = grad_norm.item()
    values.update(run.grad_step.amp_values())
    if run.nonfinite == "skip":
        values["train/nonfinite_steps"] = progress.nonfinite_steps
    rate = throughput.rate()
    if rate is not None:
        values["train/samples_per_s"] = rate
    run.logger.scalars(progress.step, values)
    run.logger.progress(progress.step, {"loss": values["train/loss"], "lr": run.grad_step.optimizer.param_groups[0]["lr"]})


def val_range(n: int, rank: int, world: int) -> tuple[int, int]:
    """This rank's contiguous share `start:stop` of n validation samples: no sample is
    padded or repeated, so the summed metrics equal one process's over the whole split."""
    return n * rank // world, n * (rank + 1) // world


@torch.no_grad()
def evaluate(model: nn.Module, data: DataSource, batch_size: int, autocast: Callable[[], ContextManager],
             dist: DistInfo = DistInfo()) -> dict[str, float]:
    """Mean cross-entropy, top-1 and top-5 accuracy on the validation split. Each rank evaluates its
    share (`val_range`) with the bare model (DDP's forward would sync buffers, and ranks may
    run different numbers of batches); the sums are added over the ranks (one host sync)."""
    model = unwrap(model)
    model.eval()
    n = len(data.val)
    totals = torch.zeros(3, device=data.device, dtype=torch.float64)  # loss sum, top-1, top-5
    for xb, yb in data.val_batches(batch_size, *val_range(n, dist.rank, dist.world_size)):
        with autocast():
            logits = model(xb)
        logits = logits.float()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices == yb.unsqueeze(1)
        totals += torch.stack([F.cross_entropy(logits, yb, reduction="sum"), top[:, 0].sum(),
                               top.any(dim=1).sum()]).double()
    loss, top1, top5 = (sum_over_ranks(totals, dist) / n).tolist()
    return {"val/loss": loss, "val/acc": top1, "val/acc5": top5}


def validate(run: Run, progress: Progress) -> bool:
    """Evaluate, log, remember the best value of `run.monitor`; True when this is the best so
    far. The weights evaluated are the optimizer's evaluation weights (schedule-free) and, with
    weight averaging, the average as `val/*` and the raw model as `val_raw/*`."""
    done = progress.step >= run.windows.max_steps
    metrics: dict[str, float] = {}
    with eval_weights(run.grad_step.optimizer):
        for prefix, model in run.averaging.eval_models(run.model, last=done).items():
            values = evaluate(model, run.data, run.val_batch_size, run.autocast, run.dist)
            metrics.update({key.replace("val/", f"{prefix}/", 1): value for key, value in values.items()})
    run.logger.scalars(progress.step, metrics, kind="val")
    run.logger.message(f"epoch {progress.epoch} step {progress.step}: val loss {metrics['val/loss']:.4f} "
                       f"acc {metrics['val/acc']:.4f} acc5 {metrics['val/acc5']:.4f}"
                       + (f" (raw model: loss {metrics['val_raw/loss']:.4f} acc {metrics['val_raw/acc']:.4f})"
                          if "val_raw/acc" in metrics else ""))
    progress.last_val = metrics
    if run.plateau is not None:
        progress.plateau = run.plateau.observe(metrics, progress.plateau)
    value = metrics[run.monitor]
    is_best = progress.best is None or (value > progress.best if run.monitor_mode == "max" else value < progress.best)
    if is_best:
        progress.best = value
        progress.best_epoch = progress.epoch
    return is_best
