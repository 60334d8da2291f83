from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.anneal import Annealing, cosine_anneal
from optkit.schedule.policy import as_float_list, required
from optkit.schedule.timeline import Timeline


@dataclass
class CosineRestart(Annealing):
    """MMCV `CosineRestartLrUpdaterHook`: cosine annealing restarted after each period.

    With cumulative periods C and k the first index with progress < C[k], start = C[k−1]
    (0 for k = 0): `lr = cosanneal(base, target, min((p − start)/periods[k], 1),
    weight=restart_weights[k])`, so each restart jumps to `w·base + (1 − w)·target`.
    Periods count epochs when `by_epoch`, else iterations. `restart_weights` needs one
    weight per period (MMCV's default `[1]` only fits a single period). MMCV raises when
    progress reaches sum(periods), mid-run; optkit checks before the run starts.
    """

    periods: Optional[List[int]] = None  # required
    restart_weights: List[float] = field(default_factory=lambda: [1.0])

    def __post_init__(self) -> None:
        super().__post_init__()
        periods = list(required(self.periods, "periods", "schedule=cosine_restart"))
        if not periods or any(isinstance(p, bool) or not isinstance(p, int) or p <= 0 for p in periods):
            raise ConfigError("periods", "must be a non-empty list of positive ints", periods)
        self.periods = periods
        self.restart_weights = as_float_list(self.restart_weights)
        if len(self.restart_weights) != len(periods):
            raise ConfigError("restart_weights", f"needs one weight per period ({len(periods)})",
                              self.restart_weights)

    def check(self, timeline: Timeline) -> None:
        total = timeline.max_epochs if self.by_epoch else timeline.max_iters
        if sum(self.periods) < total:
            unit = "epochs" if self.by_epoch else "iterations"
            raise ConfigError("periods", f"sum to less than the run's {total} {unit}", self.periods)

    def lr(self, base, progress, total):
        ends = np.cumsum(self.periods)
        k = np.minimum(np.searchsorted(ends, progress, side="right"), len(ends) - 1)
        start = np.where(k == 0, 0, ends[k - 1])
        alpha = np.minimum((progress - start) / np.asarray(self.periods)[k], 1)
        weight = np.asarray(self.restart_weights)[k]
        return cosine_anneal(base, self.target(base), alpha, weight)
