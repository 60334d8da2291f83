from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.anneal import Annealing, cosine_anneal


@dataclass
class FlatCosineAnnealing(Annealing):
    """MMCV `FlatCosineAnnealingLrUpdaterHook` (fastai's flat-cos): the base lr until
    `start = round(total · start_percent)`, then `cosanneal(base, target, (p − start)/(total − start))`.

    `round` is Python's (banker's: round(10.5) = 10), as in MMCV. MMCV rejects an int
    `start_percent` (0 or 1); the schema here turns it into a float. Target as for `cosine`.
    """

    start_percent: float = 0.75

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.start_percent <= 1:
            raise ConfigError("start_percent", "must be in [0, 1]", self.start_percent)

    def lr(self, base, progress, total):
        start = round(total * self.start_percent)
        annealed = cosine_anneal(base, self.target(base), (progress - start) / max(total - start, 1))
        return np.where(progress < start, base, annealed)
