"""The contract every momentum policy follows (MMCV `MomentumUpdaterHook`), and which key
of a param group holds its momentum.

Momentum policies mirror the lr policies (`momentum(base, progress, total)`, by epoch or
by step, numpy-broadcastable) with MMCV's `momentum_config` field names. The base of a
group is the optimizer's momentum (`momentum`, or `betas[0]` for the Adam family) times the
group's `momentum_mult` (optkit.schedule.keys). MMCV writes `momentum` when the group has
that key, else replaces `betas[0]` (beta2 kept).

Momentum warmup differs from lr warmup in MMCV, and optkit keeps the differences:
the regular momentum is *divided* by the lr warmup factor (so it starts above the
regular momentum, at `m / warmup_ratio`, and can exceed 1); `warmup_ratio` defaults to
0.9; `warmup_iters` always counts iterations (MMCV has no `warmup_by_epoch` here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import check_warmup


def momentum_key(group: dict) -> str:
    """`momentum` (SGD, RMSprop) or `betas` (Adam family): MMCV's `_set_momentum` order."""
    if "momentum" in group:
        return "momentum"
    if "betas" in group:
        return "betas"
    raise ConfigError("momentum", "the optimizer's param groups have neither `momentum` nor `betas` to schedule; "
                      "use momentum=none", f"group keys {sorted(k for k in group if k != 'params')}")


def current_momentum(group: dict) -> float:
    return group["momentum"] if momentum_key(group) == "momentum" else group["betas"][0]


@dataclass
class MomentumPolicy:
    by_epoch: bool = True
    warmup: Optional[str] = None  # constant | linear | exp
    warmup_iters: int = 0  # iterations, even for a by-epoch policy
    warmup_ratio: float = 0.9

    def __post_init__(self) -> None:
        check_warmup(self.warmup, self.warmup_iters, self.warmup_ratio, ("warmup", "warmup_iters", "warmup_ratio"))

    def momentum(self, base: np.ndarray, progress: np.ndarray, total: int) -> np.ndarray:
        raise NotImplementedError

    def check(self, timeline: Timeline) -> None:
        """Raise `ConfigError` if the policy cannot run for this many steps."""

    def check_groups(self, n_groups: int) -> None:
        """Raise `ConfigError` if per-group values do not match the optimizer's groups."""

    def warmup_length(self) -> int:
        return 0 if self.warmup is None else self.warmup_iters

