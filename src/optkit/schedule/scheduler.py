"""Applies a `Schedule` to an optimizer: the MMCV lr and momentum hooks, minus the hooks."""
from __future__ import annotations

from typing import Any

import numpy as np

from optkit.schedule.curve import Schedule


class Scheduler:
    """Writes every param group's lr (and momentum) for the optimizer step `t`.

    The loop passes the step counter in (`apply(t)`), so the counter is the only state
    and resuming is exact. Each group is scheduled from its own base lr, kept in
    `initial_lr` as MMCV and torch do, so paramwise multipliers survive every policy and a
    resumed optimizer keeps its original bases. Values are computed `CHUNK` steps at a
    time; one step then costs a list lookup and one dict write per group.
    """

    CHUNK = 1024

    def __init__(self, optimizer: Any, schedule: Schedule) -> None:
        self.schedule = schedule
        self.groups = optimizer.param_groups
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in self.groups]
        self._start = self._stop = 0
        self._rows: list[list[tuple[str, Any]]] = []

    def apply(self, step: int) -> None:
        if not self._start <= step < self._stop:
            self._fill(step)
        for group, items in zip(self.groups, self._rows[step - self._start]):
            for key, value in items:
                group[key] = value

    def values(self, step: int) -> list[dict[str, Any]]:
        """What `apply(step)` writes, per group (for logging and tests)."""
        if not self._start <= step < self._stop:
            self._fill(step)
        return [dict(items) for items in self._rows[step - self._start]]

    def _fill(self, step: int) -> None:
        start = step - step % self.CHUNK
        last = self.schedule.timeline.max_iters - 1
        steps = np.minimum(np.arange(start, start + self.CHUNK), max(last, 0))
        lr = self.schedule.lr(self.base_lrs, steps).T.tolist()
        momentum = self.schedule.momentum_items(self.groups, steps)
        if momentum is None:
            self._rows = [[(("lr", value),) for value in row] for row in lr]
        else:
            self._rows = [
                [(("lr", value), item) for value, item in zip(row, items)]
                for row, items in zip(lr, momentum)
            ]
        self._start, self._stop = start, start + self.CHUNK
