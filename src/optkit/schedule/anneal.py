"""MMCV's two annealing curves (`mmcv.runner.hooks.lr_updater.annealing_cos/_linear`), the
end point rule (`min_lr` or `min_lr_ratio`), and the base of the policies that anneal to it.

Written with numpy ufuncs so that the same expression evaluates one value or a whole
curve (`factor` may be an array).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.policy import LrPolicy


def cosine_anneal(start, end, factor, weight=1.0):
    """`end + ½·weight·(start − end)·(1 + cos(π·factor))`: start at factor 0, end at 1."""
    return end + 0.5 * weight * (start - end) * (np.cos(np.pi * factor) + 1)


def linear_anneal(start, end, factor):
    """`start + (end − start)·factor`."""
    return start + (end - start) * factor


ANNEALS = {"cos": cosine_anneal, "linear": linear_anneal}  # MMCV `anneal_strategy`


def check_anneal(strategy: str, key: str = "anneal_strategy") -> None:
    if strategy not in ANNEALS:
        raise ConfigError(key, "unknown annealing strategy", strategy, ANNEALS)


def anneal_target(base, minimum: Optional[float], ratio: Optional[float]):
    """MMCV's end point: the absolute minimum (the same number for every group, so a group
    whose base is below it *rises* towards it) or `base · ratio`."""
    return minimum if minimum is not None else base * ratio


def one_target(minimum: Optional[float], ratio: Optional[float], name: str = "min_lr") -> Optional[float]:
    """Check the pair (`min_lr`, `min_lr_ratio`) and return the ratio to use.

    MMCV asserts that exactly one is given. Both set is an error here too; neither set means
    `<name>_ratio = 0` (anneal towards zero), so that `schedule=cosine` runs as it is and one
    override (`schedule.min_lr=1e-5`) switches to an absolute minimum.
    """
    if minimum is not None and ratio is not None:
        raise ConfigError(name, f"set only one of {name} and {name}_ratio", f"{name}={minimum}, {name}_ratio={ratio}")
    if minimum is not None and minimum < 0:
        raise ConfigError(name, "must be >= 0", minimum)
    if ratio is not None and ratio < 0:
        raise ConfigError(f"{name}_ratio", "must be >= 0", ratio)
    return 0.0 if minimum is None and ratio is None else ratio


@dataclass
class Annealing(LrPolicy):
    """An lr policy that anneals each group from its base to `target(base)`: `curve(base,
    target, progress / total)` (cosine unless a subclass says otherwise)."""

    min_lr: Optional[float] = None
    min_lr_ratio: Optional[float] = None
    curve = staticmethod(cosine_anneal)

    def __post_init__(self) -> None:
        self.min_lr_ratio = one_target(self.min_lr, self.min_lr_ratio)

    def target(self, base):
        return anneal_target(base, self.min_lr, self.min_lr_ratio)

    def lr(self, base, progress, total):
        return self.curve(base, self.target(base), progress / total)


@dataclass
class AnnealingMomentum(MomentumPolicy):
    """The momentum twin of `Annealing`: target `min_momentum` or `base · min_momentum_ratio`."""

    min_momentum: Optional[float] = None
    min_momentum_ratio: Optional[float] = None
    curve = staticmethod(cosine_anneal)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.min_momentum_ratio = one_target(self.min_momentum, self.min_momentum_ratio, "min_momentum")

    def momentum(self, base, progress, total):
        return self.curve(base, anneal_target(base, self.min_momentum, self.min_momentum_ratio), progress / total)
