from __future__ import annotations

from dataclasses import dataclass

from optkit.schedule.anneal import Annealing, AnnealingMomentum, linear_anneal


@dataclass
class LinearAnnealing(Annealing):
    """MMCV `LinearAnnealingLrUpdaterHook`: `base + (target − base) · progress / total`,
    target = `min_lr` or `base · min_lr_ratio` (neither set: ratio 0; MMCV asserts).
    Like every MMCV annealing policy it stops one step (or epoch) short of the target."""

    curve = staticmethod(linear_anneal)


@dataclass
class LinearAnnealingMomentum(AnnealingMomentum):
    """MMCV `LinearAnnealingMomentumUpdaterHook`: the lr formula applied to the momentum."""

    curve = staticmethod(linear_anneal)
