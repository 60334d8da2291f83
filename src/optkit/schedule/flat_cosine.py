from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.anneal import anneal_target, cosine_anneal, one_target
from optkit.schedule.policy import LrPolicy


@dataclass
class FlatCosineAnnealing(LrPolicy):
    """MMCV `FlatCosineAnnealingLrUpdaterHook` (fastai's flat-cos): the base lr until
    `start = round(total · start_percent)`, then `cosanneal(base, target, (p − start)/(total − start))`.

    `round` is Python's (banker's: round(10.5) = 10), as in MMCV. MMCV rejects an int
    `start_percent` (0 or 1); the schema here turns it into a float. Target as for `cosine`.
    """

    start_percent: float = 0.75
    min_lr: Optional[float] = None
    min_lr_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        if not 0 <= self.start_percent <= 1:
            raise ConfigError("start_percent", "must be in [0, 1]", self.start_percent)
        self.min_lr_ratio = one_target(self.min_lr, self.min_lr_ratio)

    def lr(self, base, progress, total):
        start = round(total * self.start_percent)
        target = anneal_target(base, self.min_lr, self.min_lr_ratio)
        annealed = cosine_anneal(base, target, (progress - start) / max(total - start, 1))
        return np.where(progress < start, base, annealed)
