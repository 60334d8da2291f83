from __future__ import annotations

from dataclasses import dataclass

from optkit.schedule.anneal import Annealing, AnnealingMomentum, cosine_anneal


@dataclass
class CosineAnnealing(Annealing):
    """MMCV `CosineAnnealingLrUpdaterHook`: `cosanneal(base, target, progress / total)`,
    target = `min_lr` (absolute) or `base · min_lr_ratio`.

    Progress stops one short of total, so the lr never quite reaches the target
    (MMCV quirk, kept): with 5 epochs and `min_lr_ratio=0` the last epoch runs at
    `base · ½(1 + cos(4π/5))`. Neither field set means `min_lr_ratio=0` (MMCV asserts).
    """

    curve = staticmethod(cosine_anneal)


@dataclass
class CosineAnnealingMomentum(AnnealingMomentum):
    """MMCV `CosineAnnealingMomentumUpdaterHook`: the lr formula applied to the momentum,
    target `min_momentum` or `base · min_momentum_ratio` (neither set: ratio 0)."""

    curve = staticmethod(cosine_anneal)
