from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.policy import LrPolicy


@dataclass
class Poly(LrPolicy):
    """MMCV `PolyLrUpdaterHook`: `lr = (base − min_lr)·(1 − progress/total)^power + min_lr`.

    `min_lr` is absolute: a group whose base is below it (an `lr_mult=0` group) rises
    towards it, as in MMCV. The last step uses progress `total − 1`, so the lr never
    reaches `min_lr`. Progress past the end is clamped (never used by a run).
    """

    power: float = 1.0
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.power < 0:
            raise ConfigError("power", "must be >= 0", self.power)
        if self.min_lr < 0:
            raise ConfigError("min_lr", "must be >= 0", self.min_lr)

    def lr(self, base, progress, total):
        coeff = (1 - np.minimum(progress, total) / total) ** self.power
        return (base - self.min_lr) * coeff + self.min_lr
