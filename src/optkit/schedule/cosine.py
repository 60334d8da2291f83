from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from optkit.schedule.anneal import anneal_target, cosine_anneal, one_target
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.policy import LrPolicy


@dataclass
class CosineAnnealing(LrPolicy):
    """MMCV `CosineAnnealingLrUpdaterHook`: `cosanneal(base, target, progress / total)`,
    target = `min_lr` (absolute) or `base · min_lr_ratio`.

    Progress stops one short of total, so the lr never quite reaches the target
    (MMCV quirk, kept): with 5 epochs and `min_lr_ratio=0` the last epoch runs at
    `base · ½(1 + cos(4π/5))`. Neither field set means `min_lr_ratio=0` (MMCV asserts).
    """

    min_lr: Optional[float] = None
    min_lr_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        self.min_lr_ratio = one_target(self.min_lr, self.min_lr_ratio)

    def lr(self, base, progress, total):
        return cosine_anneal(base, anneal_target(base, self.min_lr, self.min_lr_ratio), progress / total)


@dataclass
class CosineAnnealingMomentum(MomentumPolicy):
    """MMCV `CosineAnnealingMomentumUpdaterHook`: the lr formula applied to the momentum,
    target `min_momentum` or `base · min_momentum_ratio` (neither set: ratio 0)."""

    min_momentum: Optional[float] = None
    min_momentum_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.min_momentum_ratio = one_target(self.min_momentum, self.min_momentum_ratio, "min_momentum")

    def momentum(self, base, progress, total):
        return cosine_anneal(base, anneal_target(base, self.min_momentum, self.min_momentum_ratio), progress / total)
