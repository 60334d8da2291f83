"""Whole curves: the lr (and momentum) of every group at a run of steps, in one numpy pass.

This is the MMCV hook sequence folded into array arithmetic: the regular value is the
policy at the current epoch (by-epoch policies, written in `before_train_epoch`) or step
(`before_train_iter`), and for steps inside the warmup it is multiplied by the warmup
factor. The trainer's scheduler and `scripts/plot_lr.py` both read values from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from optkit.schedule.policy import LrPolicy
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import Warmup


def progress_of(steps: np.ndarray, by_epoch: bool, timeline: Timeline) -> tuple[np.ndarray, int]:
    """(progress, total) as MMCV's `get_lr` sees them: epochs or steps."""
    if by_epoch:
        return steps // timeline.iters_per_epoch, timeline.max_epochs
    return steps, timeline.max_iters


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
    progress, total = progress_of(steps, policy.by_epoch, timeline)
    lr = np.broadcast_to(policy.lr(base, progress, total), (base.shape[0], steps.shape[0]))
    warm = warmup.length(timeline)
    if warm:
        inside = steps < warm
        lr = np.where(inside, lr * warmup.factor(np.minimum(steps, warm), warm), lr)
    return np.ascontiguousarray(lr, dtype=float)


@dataclass(frozen=True)
class Schedule:
    """Everything that decides the lr and momentum of a run, as curves over its steps."""

    lr_policy: LrPolicy
    warmup: Warmup
    timeline: Timeline
    momentum_policy: Optional[Any] = None

    def lr(self, bases: Sequence[float], steps: np.ndarray) -> np.ndarray:
        return lr_curve(self.lr_policy, self.warmup, bases, steps, self.timeline)

    def momentum_items(self, groups: Sequence[dict], steps: np.ndarray) -> Optional[list[list[tuple[str, Any]]]]:
        """Per step, per group, the `(key, value)` a momentum policy writes; None without one."""
        if self.momentum_policy is None:
            return None
        raise NotImplementedError("momentum policies arrive with the schedules issue")
