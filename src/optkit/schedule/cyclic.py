from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.anneal import ANNEALS, check_anneal
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.policy import LrPolicy, as_float_list, is_number, per_iteration_only
from optkit.schedule.timeline import Timeline


def target_pair(value: Any) -> tuple[float, float]:
    """MMCV's `target_ratio`: a number r or a 1-list [r] means (r, r / 1e5); a 2-list is
    (peak, end). (MMCV accepts only a float or a tuple; a YAML list plays the tuple here.)"""
    ratios = [float(value)] if is_number(value) else as_float_list(value)
    if len(ratios) == 1:
        ratios.append(ratios[0] / 1e5)
    if len(ratios) != 2:
        raise ConfigError("target_ratio", "must be a number or a list of two numbers", ratios)
    return ratios[0], ratios[1]


def check_cycle(cyclic_times: int, step_ratio_up: float, anneal_strategy: str) -> None:
    if isinstance(cyclic_times, bool) or not isinstance(cyclic_times, int) or cyclic_times < 1:
        raise ConfigError("cyclic_times", "must be an int >= 1", cyclic_times)
    if not 0 <= step_ratio_up < 1:
        raise ConfigError("step_ratio_up", "must be in [0, 1)", step_ratio_up)
    check_anneal(anneal_strategy)


def check_cycle_length(cyclic_times: int, timeline: Timeline) -> None:
    if cyclic_times > timeline.max_iters:
        raise ConfigError("cyclic_times", f"more cycles than the run's {timeline.max_iters} iterations", cyclic_times)


def cyclic(base, step, total: int, ratios: tuple[float, float], cyclic_times: int, step_ratio_up: float,
           gamma: float, anneal_strategy: str):
    """MMCV's cyclic value at iteration `step` of a `total`-iteration run.

    P = total // cyclic_times iterations per cycle, U = int(step_ratio_up · P) rising.
    In cycle k (scale s = gamma^k, peak = 1 − s + ratios[0]·s) at position c: rising
    `anneal(base, base·peak, c/U)`, then falling `anneal(base·peak, base·ratios[1], (c − U)/(P − U))`;
    the next cycle jumps back to base. Leftover iterations (total not divisible by
    cyclic_times) form a partial extra cycle. When U = 0 MMCV takes the falling phase for
    the first one and scales its end instead: `anneal(base·ratios[0], base·(1 − s + ratios[1]·s), c/P)`.
    """
    anneal = ANNEALS[anneal_strategy]
    period = total // cyclic_times
    up = int(step_ratio_up * period)
    position = step % period
    scale = gamma ** (step // period)
    high, low = ratios
    if up == 0:
        return anneal(base * high, base * (1 - scale + low * scale), position / period)
    peak = 1 - scale + high * scale
    rising = anneal(base * 1, base * peak, position / up)
    falling = anneal(base * peak, base * low, (position - up) / (period - up))
    return np.where(position < up, rising, falling)


@dataclass
class Cyclic(LrPolicy):
    """MMCV `CyclicLrUpdaterHook` (cyclical lr with cosine or linear halves; see `cyclic`).

    Always per iteration (`by_epoch=True` is an error, as in MMCV). `gamma` in (0, 1]
    shrinks the peak cycle by cycle. The tutorial's setting is the default:
    `target_ratio=[10, 1e-4] cyclic_times=1 step_ratio_up=0.4`.
    """

    by_epoch: bool = False
    target_ratio: Any = field(default_factory=lambda: [10.0, 1e-4])
    cyclic_times: int = 1
    step_ratio_up: float = 0.4
    anneal_strategy: str = "cos"  # cos | linear
    gamma: float = 1.0

    def __post_init__(self) -> None:
        per_iteration_only(self.by_epoch, "schedule=cyclic")
        self.target_ratio = target_pair(self.target_ratio)
        if self.target_ratio[0] <= 0 or self.target_ratio[1] < 0:
            raise ConfigError("target_ratio", "the peak ratio must be > 0 and the end ratio >= 0",
                              list(self.target_ratio))
        check_cycle(self.cyclic_times, self.step_ratio_up, self.anneal_strategy)
        if not 0 < self.gamma <= 1:
            raise ConfigError("gamma", "must be in (0, 1]", self.gamma)

    def check(self, timeline: Timeline) -> None:
        check_cycle_length(self.cyclic_times, timeline)

    def lr(self, base, progress, total):
        return cyclic(base, progress, total, self.target_ratio, self.cyclic_times, self.step_ratio_up, self.gamma,
                      self.anneal_strategy)


@dataclass
class CyclicMomentum(MomentumPolicy):
    """MMCV `CyclicMomentumUpdaterHook`: the cyclic formula applied to the momentum, which
    goes down to `base · target_ratio[0]` while the lr rises and back to `base · target_ratio[1]`.

    Default `target_ratio = [0.85/0.95, 1]` (the tutorial's pair with the lr `cyclic`).
    MMCV does not range-check `gamma` here, and neither does optkit; a single number r
    still means (r, r / 1e5), as in MMCV.
    """

    by_epoch: bool = False
    target_ratio: Any = field(default_factory=lambda: [0.85 / 0.95, 1.0])
    cyclic_times: int = 1
    step_ratio_up: float = 0.4
    anneal_strategy: str = "cos"  # cos | linear
    gamma: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        per_iteration_only(self.by_epoch, "momentum=cyclic")
        self.target_ratio = target_pair(self.target_ratio)
        check_cycle(self.cyclic_times, self.step_ratio_up, self.anneal_strategy)

    def check(self, timeline: Timeline) -> None:
        check_cycle_length(self.cyclic_times, timeline)

    def momentum(self, base, progress, total):
        return cyclic(base, progress, total, self.target_ratio, self.cyclic_times, self.step_ratio_up, self.gamma,
                      self.anneal_strategy)
