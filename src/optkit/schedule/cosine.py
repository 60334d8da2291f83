from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from optkit.errors import ConfigError
from optkit.schedule.anneal import cosine_anneal
from optkit.schedule.policy import LrPolicy


def anneal_target(base, min_lr: Optional[float], min_lr_ratio: Optional[float]):
    """MMCV's end point: the absolute `min_lr` (same for every group) or `base · min_lr_ratio`."""
    return min_lr if min_lr is not None else base * min_lr_ratio


def check_one_target(min_lr: Optional[float], min_lr_ratio: Optional[float], prefix: str = "min_lr") -> None:
    """MMCV asserts that exactly one of `min_lr` / `min_lr_ratio` is given."""
    if (min_lr is None) == (min_lr_ratio is None):
        both = min_lr is not None
        raise ConfigError(
            prefix if both else f"{prefix}_ratio",
            f"set exactly one of {prefix} and {prefix}_ratio",
            f"{prefix}={min_lr}, {prefix}_ratio={min_lr_ratio}",
        )


@dataclass
class CosineAnnealing(LrPolicy):
    """MMCV `CosineAnnealingLrUpdaterHook`: `cosanneal(base, target, progress / total)`.

    Progress stops one short of total, so the lr never quite reaches the target
    (MMCV quirk, kept). The default `min_lr_ratio=0` anneals towards zero.
    """

    min_lr: Optional[float] = None
    min_lr_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        if self.min_lr is None and self.min_lr_ratio is None:
            self.min_lr_ratio = 0.0
        check_one_target(self.min_lr, self.min_lr_ratio)

    def lr(self, base, progress, total):
        return cosine_anneal(base, anneal_target(base, self.min_lr, self.min_lr_ratio), progress / total)
