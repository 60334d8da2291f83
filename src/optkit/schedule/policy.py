"""The contract every lr policy follows (MMCV `LrUpdaterHook.get_lr`).

A policy is a small dataclass whose fields are its config (the schema in `optkit.config`
is derived from them, so the defaults live here and nowhere else) and whose `lr` is a pure
function of progress. Progress is the epoch when `by_epoch` (MMCV's default: the lr
changes only at epoch starts) and the optimizer step otherwise; `total` is then the
number of epochs or of steps. `lr` must accept numpy arrays for `base` (one row per
param group) and `progress` (one column per step), so that a whole curve is one call.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optkit.schedule.timeline import Timeline


@dataclass
class LrPolicy:
    by_epoch: bool = True

    def lr(self, base: np.ndarray, progress: np.ndarray, total: int) -> np.ndarray:
        raise NotImplementedError

    def base_lrs(self, bases: np.ndarray) -> np.ndarray:
        """Each group's base lr; MMCV OneCycle replaces it with `max_lr / div_factor`."""
        return bases

    def check(self, timeline: Timeline) -> None:
        """Raise `ConfigError` if the policy cannot run for this many steps."""
