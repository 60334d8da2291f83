"""Whole curves: the lr (and momentum) of every group at a run of steps, in one numpy pass.

This is the MMCV hook sequence folded into array arithmetic: the regular value is the
policy at the current epoch (by-epoch policies, written in `before_train_epoch`) or step
(`before_train_iter`), and for steps inside the warmup the lr is multiplied by the warmup
factor (the momentum divided by it). The trainer's scheduler and `optkit.plot_lr` both
read values from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from optkit.errors import warn
from optkit.schedule.momentum import MomentumPolicy, momentum_bases, momentum_key
from optkit.schedule.policy import LrPolicy, under
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import Warmup, warmup_factor


def progress_of(steps: np.ndarray, by_epoch: bool, timeline: Timeline) -> tuple[np.ndarray, int]:
    """(progress, total) as MMCV's `get_lr` sees them: epochs or steps."""
    if by_epoch:
        return steps // timeline.iters_per_epoch, timeline.max_epochs
    return steps, timeline.max_iters


def regular_curve(value: Callable, base: np.ndarray, steps: np.ndarray, by_epoch: bool,
                  timeline: Timeline) -> np.ndarray:
    """value(base, progress, total) for every group (rows of `base`) at every step."""
    progress, total = progress_of(steps, by_epoch, timeline)
    return np.broadcast_to(value(base, progress, total), (base.shape[0], steps.shape[0]))


def lr_curve(
    policy: LrPolicy,
    warmup: Warmup,
    bases: Sequence[float],
    steps: np.ndarray,
    timeline: Timeline,
) -> np.ndarray:
    """lr[g, j] used by the optimizer step `steps[j]` in param group g."""
    steps = np.asarray(steps, dtype=np.int64)
    base = np.asarray(policy.base_lrs(np.asarray(bases, dtype=float)), dtype=float)[:, None]
    lr = regular_curve(policy.lr, base, steps, policy.by_epoch, timeline)
    warm = warmup.length(timeline)
    if warm:
        lr = np.where(steps < warm, lr * warmup.factor(np.minimum(steps, warm), warm), lr)
    return np.ascontiguousarray(lr, dtype=float)


def momentum_curve(policy: MomentumPolicy, bases: Sequence[float], steps: np.ndarray,
                   timeline: Timeline) -> np.ndarray:
    """momentum[g, j] used by the optimizer step `steps[j]` in param group g (MMCV's momentum
    warmup divides by the factor, for the first `warmup_iters` iterations)."""
    steps = np.asarray(steps, dtype=np.int64)
    base = np.asarray(bases, dtype=float)[:, None]
    momentum = regular_curve(policy.momentum, base, steps, policy.by_epoch, timeline)
    warm = policy.warmup_length()
    if warm:
        factor = warmup_factor(policy.warmup, np.minimum(steps, warm), warm, policy.warmup_ratio)
        momentum = np.where(steps < warm, momentum / factor, momentum)
    return np.ascontiguousarray(momentum, dtype=float)


@dataclass(frozen=True)
class Schedule:
    """Everything that decides the lr and momentum of a run, as curves over its steps."""

    lr_policy: LrPolicy
    warmup: Warmup
    timeline: Timeline
    momentum_policy: Optional[MomentumPolicy] = None

    def lr(self, bases: Sequence[float], steps: np.ndarray) -> np.ndarray:
        return lr_curve(self.lr_policy, self.warmup, bases, steps, self.timeline)

    def momentum(self, groups: Sequence[dict], steps: np.ndarray) -> Optional[np.ndarray]:
        """momentum[g, j] of the momentum policy; None without one (the optimizer's own stays)."""
        if self.momentum_policy is None:
            return None
        return momentum_curve(self.momentum_policy, momentum_bases(groups), steps, self.timeline)

    def momentum_items(self, groups: Sequence[dict], steps: np.ndarray) -> Optional[tuple[list[str], list[list[Any]]]]:
        """What a momentum policy writes: each group's key and, per group, its value at each
        of `steps`; None without a policy.

        The key is `momentum` for SGD-like groups; for the Adam family it is `betas` and the
        value the tuple with beta1 replaced (beta2 kept), as MMCV's `_set_momentum`. One list
        per group (not per step) keeps the garbage collector out of the scheduler's refills.
        """
        values = self.momentum(groups, steps)
        if values is None:
            return None
        keys = [momentum_key(group) for group in groups]
        columns = []
        for group, key, row in zip(groups, keys, values.tolist()):
            beta2 = group["betas"][1] if key == "betas" else None
            columns.append(row if key == "momentum" else [(value, beta2) for value in row])
        return keys, columns

    def check_groups(self, groups: Sequence[dict]) -> None:
        """What can only be checked against the optimizer's param groups: per-group lists,
        a momentum key to write, and (a warning) warmup momentum above 1."""
        with under("schedule"):
            self.lr_policy.check_groups(len(groups))
        if self.momentum_policy is None:
            return
        for group in groups:
            momentum_key(group)
        with under("momentum"):
            self.momentum_policy.check_groups(len(groups))
        warm = min(self.momentum_policy.warmup_length(), self.timeline.max_iters)
        if warm:
            peak = self.momentum(groups, np.arange(warm)).max()
            if peak > 1:
                warn(f"momentum.warmup_ratio: the momentum warmup divides the momentum by the warmup factor "
                     f"and reaches {peak:.4g} (> 1)")
