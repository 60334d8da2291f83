"""Applies a `Schedule` to an optimizer: the MMCV lr and momentum hooks, minus the hooks, for
any scheduled group key."""
from __future__ import annotations

from typing import Any

import numpy as np

from optkit.schedule.curve import Schedule
from optkit.schedule.keys import check_declared, group_bases, group_key, pop_legacy


class Scheduler:
    """Writes every scheduled key of every param group for the optimizer step `t`.

    The loop passes the step counter in (`apply(t)`), so the counter is the only state
    and resuming is exact. Each group's base of a key is the optimizer's value of it
    (`optimizer.defaults`, from the config) times the group's multiplier (`lr_mult`,
    `decay_mult`, ...; optkit.schedule.keys), derived here once for groups that lack one
    and kept in the group. `bases` holds them: key → one base per group.
    Values are computed `CHUNK` steps at a time, one list per group and key; one step then
    costs one list lookup and one dict write per group and key, with nothing allocated.
    """

    CHUNK = 1024

    def __init__(self, optimizer: Any, schedule: Schedule) -> None:
        self.schedule = schedule
        self.groups = optimizer.param_groups
        check_declared(optimizer, list(schedule.curves))
        legacy = pop_legacy(self.groups)
        self.keys = {name: group_key(name) for name in schedule.curves}
        self.bases = {name: group_bases(self.groups, optimizer.defaults, key, legacy)
                      for name, key in self.keys.items()}
        schedule.check(self.bases)
        self._start = self._stop = 0
        self._columns: list[tuple[dict, str, list[Any]]] = []  # (group, key, values[step - start])

    @property
    def base_lrs(self) -> list[float]:
        return self.bases["lr"]

    def apply(self, step: int) -> None:
        if not self._start <= step < self._stop:
            self._fill(step)
        row = step - self._start
        for group, key, values in self._columns:
            group[key] = values[row]

    def invalidate(self) -> None:
        """Forget the precomputed chunk: the next `apply` recomputes it (for a curve whose
        values change during the run, such as a rule driven by the validation metric)."""
        self._start = self._stop = 0

    def _fill(self, step: int) -> None:
        start = step - step % self.CHUNK
        last = self.schedule.timeline.max_iters - 1
        steps = np.minimum(np.arange(start, start + self.CHUNK), max(last, 0))
        columns = []
        for name, key in self.keys.items():
            table = self.schedule.values(name, self.bases[name], steps).tolist()  # one list per group
            columns += [(group, key.slot(group), key.column(group, row)) for group, row in zip(self.groups, table)]
        self._columns = columns
        self._start, self._stop = start, start + self.CHUNK
