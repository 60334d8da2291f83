from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.policy import LrPolicy


@dataclass
class Step(LrPolicy):
    """MMCV `StepLrUpdaterHook`: `lr = base · gamma^k`, then `max(lr, min_lr)`.

    `step` an int s: k = progress // s. `step` a list of milestones: k = how many
    milestones are ≤ progress. `min_lr` is absolute and per group, so a group whose base
    is below it is *raised* to it from the start, as in MMCV.
    """

    step: Any = 30
    gamma: float = 0.1
    min_lr: Optional[float] = None

    def __post_init__(self) -> None:
        if isinstance(self.step, int) and not isinstance(self.step, bool):
            if self.step <= 0:
                raise ConfigError("step", "must be a positive int or an increasing list", self.step)
        else:
            milestones = list(self.step)
            if not milestones or any(not isinstance(s, int) or s <= 0 for s in milestones):
                raise ConfigError("step", "milestones must be positive ints", self.step)
            if any(b <= a for a, b in zip(milestones, milestones[1:])):
                raise ConfigError("step", "milestones must be strictly increasing", self.step)
        if self.gamma <= 0:
            raise ConfigError("gamma", "must be > 0", self.gamma)

    def lr(self, base, progress, total):
        if isinstance(self.step, int):
            exponent = np.floor_divide(progress, self.step)
        else:
            exponent = np.searchsorted(np.asarray(list(self.step)), progress, side="right")
        lr = base * self.gamma**exponent
        return lr if self.min_lr is None else np.maximum(lr, self.min_lr)
