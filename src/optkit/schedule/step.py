from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.policy import LrPolicy


def check_step(step: Any) -> Any:
    """MMCV: an int > 0 or a list of ints > 0; optkit also requires the list to increase
    strictly (MMCV would silently count only up to the first milestone not yet passed)."""
    if isinstance(step, int) and not isinstance(step, bool):
        if step <= 0:
            raise ConfigError("step", "must be a positive int or a strictly increasing list", step)
        return step
    if isinstance(step, (str, bytes, float, bool)) or step is None:
        raise ConfigError("step", "must be a positive int or a strictly increasing list of ints", step)
    milestones = list(step)
    if not milestones or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in milestones):
        raise ConfigError("step", "milestones must be positive ints", milestones)
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ConfigError("step", "milestones must be strictly increasing", milestones)
    return milestones


def step_decay(base, progress, step: Any, gamma: float, floor: Optional[float]):
    """`base · gamma^k`, then `max(·, floor)`; k = progress // step, or the number of
    milestones ≤ progress."""
    if isinstance(step, int):
        exponent = np.floor_divide(progress, step)
    else:
        exponent = np.searchsorted(np.asarray(step), progress, side="right")
    value = base * gamma**exponent
    return value if floor is None else np.maximum(value, floor)


@dataclass
class Step(LrPolicy):
    """MMCV `StepLrUpdaterHook`: `lr = base · gamma^k`, then `max(lr, min_lr)`.

    `step` an int s: k = progress // s. `step` a list of milestones: k = how many
    milestones are ≤ progress (epochs when `by_epoch`, else iterations). `min_lr` is
    absolute and per group, so a group whose base is below it is *raised* to it from the
    start, as in MMCV. MMCV requires `step`; optkit's default is 30.
    """

    step: Any = 30
    gamma: float = 0.1
    min_lr: Optional[float] = None

    def __post_init__(self) -> None:
        self.step = check_step(self.step)
        if self.gamma <= 0:
            raise ConfigError("gamma", "must be > 0", self.gamma)
        if self.min_lr is not None and self.min_lr < 0:
            raise ConfigError("min_lr", "must be >= 0", self.min_lr)

    def lr(self, base, progress, total):
        return step_decay(base, progress, self.step, self.gamma, self.min_lr)


@dataclass
class StepMomentum(MomentumPolicy):
    """MMCV `StepMomentumUpdaterHook`: `momentum = base · gamma^k`, then
    `max(momentum, min_momentum)`; k as for the lr `step` policy. gamma defaults to 0.5."""

    step: Any = 30
    gamma: float = 0.5
    min_momentum: Optional[float] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.step = check_step(self.step)
        if self.gamma <= 0:
            raise ConfigError("gamma", "must be > 0", self.gamma)

    def momentum(self, base, progress, total):
        return step_decay(base, progress, self.step, self.gamma, self.min_momentum)
