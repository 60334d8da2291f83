"""Applies a `Schedule` to an optimizer: the MMCV lr and momentum hooks, minus the hooks."""
from __future__ import annotations

from typing import Any

import numpy as np

from optkit.schedule.curve import Schedule
from optkit.schedule.momentum import current_momentum


class Scheduler:
    """Writes every param group's lr (and momentum) for the optimizer step `t`.

    The loop passes the step counter in (`apply(t)`), so the counter is the only state
    and resuming is exact. Each group is scheduled from its own base lr, kept in
    `initial_lr` as MMCV and torch do, so paramwise multipliers survive every policy and a
    resumed optimizer keeps its original bases; with a momentum policy the base momentum
    is kept in `initial_momentum` likewise (MMCV `MomentumUpdaterHook.before_run`).
    Values are computed `CHUNK` steps at a time, one list per group; one step then costs
    one list lookup and one dict write per group and value, with nothing allocated.
    """

    CHUNK = 1024

    def __init__(self, optimizer: Any, schedule: Schedule) -> None:
        self.schedule = schedule
        self.groups = optimizer.param_groups
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in self.groups]
        schedule.check_groups(self.groups)
        if schedule.momentum_policy is not None:
            for group in self.groups:
                group.setdefault("initial_momentum", current_momentum(group))
        self._start = self._stop = 0
        self._lr: list[list[float]] = []  # [group][step - start]
        self._keys: list[str] = []
        self._momentum: list[list[Any]] | None = None  # [group][step - start]

    def apply(self, step: int) -> None:
        if not self._start <= step < self._stop:
            self._fill(step)
        row = step - self._start
        for group, lrs in zip(self.groups, self._lr):
            group["lr"] = lrs[row]
        if self._momentum is not None:
            for group, key, values in zip(self.groups, self._keys, self._momentum):
                group[key] = values[row]

    def _fill(self, step: int) -> None:
        start = step - step % self.CHUNK
        last = self.schedule.timeline.max_iters - 1
        steps = np.minimum(np.arange(start, start + self.CHUNK), max(last, 0))
        self._lr = self.schedule.lr(self.base_lrs, steps).tolist()  # one list per group
        items = self.schedule.momentum_items(self.groups, steps)
        self._keys, self._momentum = items if items is not None else ([], None)
        self._start, self._stop = start, start + self.CHUNK
