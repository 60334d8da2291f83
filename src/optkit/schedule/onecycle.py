from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.anneal import ANNEALS, check_anneal
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.policy import LrPolicy, as_float_list, is_number, per_group, per_iteration_only, required
from optkit.schedule.timeline import Timeline


def phase_ends(pct_start: float, total: int, three_phase: bool) -> list[float]:
    """MMCV's phase end iterations (floats): `pct·T − 1`, [`2·pct·T − 2`,] `T − 1`."""
    ends = [float(pct_start * total) - 1]
    if three_phase:
        ends.append(float(2 * pct_start * total) - 2)
    return [*ends, total - 1]


def phase_of(step, ends: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(phase index, phase start) of each step: the first phase with `step <= end` (the
    last one past every end), starting where the previous one ended (0 for the first)."""
    step = np.asarray(step)
    ends_arr = np.asarray(ends)
    hit = step[..., None] <= ends_arr
    index = np.where(hit.any(axis=-1), hit.argmax(axis=-1), len(ends) - 1)
    starts = np.concatenate([[0.0], ends_arr[:-1]])
    return index, starts[index]


def through_phases(step, ends: list[float], values: list[tuple[Any, Any]], anneal_strategy: str):
    """MMCV OneCycle: in phase j, `anneal(values[j][0], values[j][1], (step − start)/(end − start))`."""
    anneal = ANNEALS[anneal_strategy]
    index, start = phase_of(step, ends)
    result = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):  # zero-length phases are never reached (check_phases)
        for j, (end, (first, last)) in enumerate(zip(ends, values)):
            result = np.where(index == j, anneal(first, last, (step - start) / (end - start)), result)
    return result


def check_phases(pct_start: float, total: int, three_phase: bool, max_iters: int) -> None:
    """MMCV divides by zero when a phase the run reaches has no length (pct_start·T = 1)."""
    ends = phase_ends(pct_start, total, three_phase)
    index, start = phase_of(np.arange(max_iters), ends)
    if np.any(np.asarray(ends)[index] == start):
        raise ConfigError("pct_start", f"gives a phase of zero length for {total} iterations", pct_start)


def check_cycle_fields(pct_start: float, anneal_strategy: str) -> None:
    if not 0 <= pct_start <= 1:
        raise ConfigError("pct_start", "must be in [0, 1]", pct_start)
    check_anneal(anneal_strategy)


def positive_or_list(value: Any, key: str) -> Any:
    """A number (every group) or a list (one per param group), each > 0; lists come back plain."""
    is_list = isinstance(value, Sequence) and not isinstance(value, str)
    values = [value] if is_number(value) else list(value) if is_list else []
    if not values or not all(is_number(v) and v > 0 for v in values):
        raise ConfigError(key, "must be a number > 0 or a list with one per param group", value)
    return value if is_number(value) else as_float_list(values)


@dataclass
class OneCycle(LrPolicy):
    """MMCV `OneCycleLrUpdaterHook` (Smith's 1cycle), always per iteration.

    The optimizer's lr is ignored: every group starts at `base = max_lr / div_factor`
    (a single `max_lr` erases paramwise multipliers; a list gives one per param group).
    T = `total_steps` (default: the run's iterations; shorter than the run is an error).
    Phases (multiples of base): up `(pct·T − 1: 1 → div_factor)`, down
    `(T − 1: div_factor → 1/final_div_factor)`; with `three_phase`, up, back down to 1 at
    `2·pct·T − 2`, then to `1/final_div_factor` at `T − 1`. A step uses the first phase
    whose end it has not passed, interpolated from the previous end. With T > the run,
    training stops before the minimum is reached.
    """

    by_epoch: bool = False
    max_lr: Any = None  # required: a number, or one per param group
    total_steps: Optional[int] = None
    pct_start: float = 0.3
    anneal_strategy: str = "cos"  # cos | linear
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        per_iteration_only(self.by_epoch, "schedule=onecycle")
        self.max_lr = positive_or_list(required(self.max_lr, "max_lr", "schedule=onecycle"), "max_lr")
        if self.total_steps is not None and (isinstance(self.total_steps, bool) or not isinstance(self.total_steps, int)
                                             or self.total_steps < 1):
            raise ConfigError("total_steps", "must be an int >= 1 or null (the run's length)", self.total_steps)
        check_cycle_fields(self.pct_start, self.anneal_strategy)
        for key in ("div_factor", "final_div_factor"):
            if not getattr(self, key) > 0:
                raise ConfigError(key, "must be > 0", getattr(self, key))

    def cycle_length(self, max_iters: int) -> int:
        return max_iters if self.total_steps is None else self.total_steps

    def check(self, timeline: Timeline) -> None:
        if self.cycle_length(timeline.max_iters) < timeline.max_iters:
            raise ConfigError("total_steps", f"shorter than the run's {timeline.max_iters} iterations",
                              self.total_steps)
        check_phases(self.pct_start, self.cycle_length(timeline.max_iters), self.three_phase, timeline.max_iters)

    def check_groups(self, n_groups: int) -> None:
        per_group(self.max_lr, n_groups, "max_lr")

    def base_lrs(self, bases):
        return per_group(self.max_lr, len(bases), "max_lr")[:, 0] / self.div_factor

    def lr(self, base, progress, total):
        div, final = self.div_factor, 1 / self.final_div_factor
        if self.three_phase:
            values = [(base * 1, base * div), (base * div, base * 1), (base * 1, base * final)]
        else:
            values = [(base * 1, base * div), (base * div, base * final)]
        ends = phase_ends(self.pct_start, self.cycle_length(total), self.three_phase)
        return through_phases(progress, ends, values, self.anneal_strategy)


@dataclass
class OneCycleMomentum(MomentumPolicy):
    """MMCV `OneCycleMomentumUpdaterHook`: momentum cycles inversely to the OneCycle lr.

    The optimizer's momentum is ignored (MMCV overwrites it with `max_momentum` before the
    run). Phases use the run's iterations M, **never** the lr policy's `total_steps`
    (so with `total_steps > M` lr and momentum are out of step, as in MMCV), and this
    policy's own `pct_start`: `(pct·M − 1: max → base)`, `(M − 1: base → max)`; three-phase
    `(pct·M − 1: max → base)`, `(2·pct·M − 2: base → max)`, `(M − 1: max → max)`.
    `base_momentum`/`max_momentum`: a number or one per param group.
    """

    by_epoch: bool = False
    base_momentum: Any = 0.85
    max_momentum: Any = 0.95
    pct_start: float = 0.3
    anneal_strategy: str = "cos"  # cos | linear
    three_phase: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        per_iteration_only(self.by_epoch, "momentum=onecycle")
        self.base_momentum = positive_or_list(self.base_momentum, "base_momentum")
        self.max_momentum = positive_or_list(self.max_momentum, "max_momentum")
        check_cycle_fields(self.pct_start, self.anneal_strategy)

    def check(self, timeline: Timeline) -> None:
        check_phases(self.pct_start, timeline.max_iters, self.three_phase, timeline.max_iters)

    def check_groups(self, n_groups: int) -> None:
        per_group(self.base_momentum, n_groups, "base_momentum")
        per_group(self.max_momentum, n_groups, "max_momentum")

    def momentum(self, base, progress, total):
        low = per_group(self.base_momentum, base.shape[0], "base_momentum")
        high = per_group(self.max_momentum, base.shape[0], "max_momentum")
        values = [(high, low), (low, high), (high, high)] if self.three_phase else [(high, low), (low, high)]
        return through_phases(progress, phase_ends(self.pct_start, total, self.three_phase), values,
                              self.anneal_strategy)
