from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from optkit.schedule.anneal import anneal_target, linear_anneal, one_target
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.policy import LrPolicy


@dataclass
class LinearAnnealing(LrPolicy):
    """MMCV `LinearAnnealingLrUpdaterHook`: `base + (target − base) · progress / total`,
    target = `min_lr` or `base · min_lr_ratio` (neither set: ratio 0; MMCV asserts).
    Like every MMCV annealing policy it stops one step (or epoch) short of the target."""

    min_lr: Optional[float] = None
    min_lr_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        self.min_lr_ratio = one_target(self.min_lr, self.min_lr_ratio)

    def lr(self, base, progress, total):
        return linear_anneal(base, anneal_target(base, self.min_lr, self.min_lr_ratio), progress / total)


@dataclass
class LinearAnnealingMomentum(MomentumPolicy):
    """MMCV `LinearAnnealingMomentumUpdaterHook`: the lr formula applied to the momentum."""

    min_momentum: Optional[float] = None
    min_momentum_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.min_momentum_ratio = one_target(self.min_momentum, self.min_momentum_ratio, "min_momentum")

    def momentum(self, base, progress, total):
        return linear_anneal(base, anneal_target(base, self.min_momentum, self.min_momentum_ratio), progress / total)
