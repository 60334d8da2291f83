"""MMEngine 0.10.7's parameter schedulers, one step of each as a pure function.

MMEngine schedules in *chained form*: each `step()` of an active scheduler reads the
group's current value and writes a new one (`_ParamScheduler.step` → `_get_value`), so
schedulers that overlap compose in the order they are stepped. Each class below holds
one scheduler's arguments and its `value(k, current, bases)`: the values it writes at its
`k`-th active step (MMEngine's `last_step`, 0 at `begin`) given the groups' current values
and their `initial_<param>` bases. The arithmetic is MMEngine's, operation for operation,
so the values are MMEngine's bit for bit:

| scheduler | k = 0 | k > 0 |
|---|---|---|
| Step (step_size, gamma) | v | v·gamma when k % step_size == 0, else v |
| MultiStep (milestones, gamma) | v | v·gamma^(times k is a milestone) |
| Constant (factor) | v·factor | v/factor at k = end−begin−1, else v |
| Exponential (gamma) | v | v·gamma |
| Linear (start_factor, end_factor) | v·start | v·(1 + (end−start)/(n·start + (k−1)(end−start))), n = end−begin−1 |
| CosineAnnealing (T_max, eta_min / eta_min_ratio) | v | (1+cos(πk/T))/(1+cos(π(k−1)/T))·(v−η)+η; v + (b−η)(1−cos(π/T))/2 when (k−1−T) % 2T == 0 |
| Poly (eta_min, power) | v | (v−η)·(1 − 1/(n−k+1))^power + η |
| OneCycle (eta_max, ...) | the closed form of k (not chained) | same |
| CosineRestart (periods, restart_weights, ...) | b·weight at each restart, else the cosine ratio | |

η is absolute (`eta_min`, the same for every group) or `eta_min_ratio` × the group's base.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Sequence

from optkit.errors import ConfigError

Values = list[float]


@dataclass
class Phase:
    """Arguments every MMEngine scheduler takes (`_ParamScheduler.__init__`)."""

    begin: int = 0
    end: Optional[int] = None  # MMEngine's INF; the runner fills max_epochs / max_iters
    by_epoch: bool = True

    # Arguments counted in steps, multiplied by the epoch length by `build_iter_from_epoch`.
    STEP_FIELDS: ClassVar[tuple[str, ...]] = ()

    def start(self, bases: Values) -> Values:
        """The group bases this scheduler sees (OneCycle writes its own `initial_lr`)."""
        return bases

    def value(self, k: int, current: Values, bases: Values) -> Values:
        raise NotImplementedError

    @property
    def span(self) -> int:
        return self.end - self.begin


def kept(current: Values) -> Values:
    return list(current)


def required(phase: Phase, *names: str) -> None:
    """MMEngine has no default for these arguments."""
    for name in names:
        if getattr(phase, name) is None:
            raise ConfigError(name, f"is required by {type(phase).__name__}", None)


@dataclass
class Step(Phase):
    step_size: Optional[int] = None
    gamma: float = 0.1
    STEP_FIELDS = ("step_size",)

    def __post_init__(self) -> None:
        required(self, "step_size")

    def value(self, k: int, current: Values, bases: Values) -> Values:
        if k == 0 or k % self.step_size != 0:
            return kept(current)
        return [v * self.gamma for v in current]


@dataclass
class MultiStep(Phase):
    milestones: Optional[Sequence[int]] = None
    gamma: float = 0.1
    STEP_FIELDS = ("milestones",)

    def __post_init__(self) -> None:
        required(self, "milestones")

    def value(self, k: int, current: Values, bases: Values) -> Values:
        times = Counter(self.milestones)[k]
        if not times:
            return kept(current)
        return [v * self.gamma ** times for v in current]


@dataclass
class Constant(Phase):
    factor: float = 1.0 / 3

    def __post_init__(self) -> None:
        if not 0 <= self.factor <= 1:
            raise ConfigError("factor", "must be between 0 and 1 (MMEngine: ValueError)", self.factor)

    def value(self, k: int, current: Values, bases: Values) -> Values:
        if k == 0:
            return [v * self.factor for v in current]
        if k != self.span - 1:
            return kept(current)
        return [v * (1.0 / self.factor) for v in current]


@dataclass
class Exponential(Phase):
    gamma: Optional[float] = None

    def __post_init__(self) -> None:
        required(self, "gamma")

    def value(self, k: int, current: Values, bases: Values) -> Values:
        return kept(current) if k == 0 else [v * self.gamma for v in current]


@dataclass
class Linear(Phase):
    start_factor: float = 1.0 / 3
    end_factor: float = 1.0

    def __post_init__(self) -> None:
        for name in ("start_factor", "end_factor"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(name, "must be between 0 and 1 (MMEngine: ValueError)", getattr(self, name))

    def value(self, k: int, current: Values, bases: Values) -> Values:
        if k == 0:
            return [v * self.start_factor for v in current]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / ((self.span - 1) * self.start_factor + (k - 1) * delta)
        return [v * ratio for v in current]


def eta(eta_min: Optional[float], eta_min_ratio: Optional[float], base: float) -> float:
    return eta_min if eta_min_ratio is None else base * eta_min_ratio


def check_eta(phase: Any) -> None:
    if phase.eta_min is None and phase.eta_min_ratio is None:
        phase.eta_min = 0.0
    if (phase.eta_min is None) == (phase.eta_min_ratio is None):
        raise ConfigError("eta_min", "set eta_min or eta_min_ratio, not both (MMEngine asserts one)",
                          [phase.eta_min, phase.eta_min_ratio])


@dataclass
class CosineAnnealing(Phase):
    T_max: Optional[int] = None
    eta_min: Optional[float] = None
    eta_min_ratio: Optional[float] = None
    STEP_FIELDS = ("T_max",)

    def __post_init__(self) -> None:
        check_eta(self)

    def value(self, k: int, current: Values, bases: Values) -> Values:
        t = self.T_max or self.span
        if k == 0:
            return kept(current)
        etas = [eta(self.eta_min, self.eta_min_ratio, b) for b in bases]
        if (k - 1 - t) % (2 * t) == 0:
            return [v + (b - e) * (1 - math.cos(math.pi / t)) / 2 for v, b, e in zip(current, bases, etas)]
        ratio = (1 + math.cos(math.pi * k / t)) / (1 + math.cos(math.pi * (k - 1) / t))
        return [ratio * (v - e) + e for v, e in zip(current, etas)]


@dataclass
class Poly(Phase):
    eta_min: float = 0.0
    power: float = 1.0

    def value(self, k: int, current: Values, bases: Values) -> Values:
        if k == 0:
            return kept(current)
        factor = (1 - 1 / (self.span - 1 - k + 1)) ** self.power
        return [(v - self.eta_min) * factor + self.eta_min for v in current]


@dataclass
class OneCycle(Phase):
    eta_max: Any = 0.0  # a number or one per group
    total_steps: Optional[int] = None
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    STEP_FIELDS = ("total_steps",)

    def __post_init__(self) -> None:
        if self.anneal_strategy not in ("cos", "linear"):
            raise ConfigError("anneal_strategy", "must be 'cos' or 'linear'", self.anneal_strategy)
        if not 0 <= self.pct_start <= 1:
            raise ConfigError("pct_start", "must be between 0 and 1", self.pct_start)

    def start(self, bases: Values) -> Values:
        return [m / self.div_factor for m in self.maxima(len(bases))]

    def maxima(self, n: int) -> Values:
        if isinstance(self.eta_max, (list, tuple)):
            if len(self.eta_max) != n:
                raise ConfigError("eta_max", f"needs one value per param group ({n} groups)", self.eta_max)
            return list(self.eta_max)
        return [self.eta_max] * n

    def value(self, k: int, current: Values, bases: Values) -> Values:
        total = self.total_steps or self.span
        up = float(self.pct_start * total) - 1
        if self.three_phase:
            ends = [(up, "initial", "max"), (float(2 * self.pct_start * total) - 2, "max", "initial"),
                    (total - 1, "initial", "min")]
        else:
            ends = [(up, "initial", "max"), (total - 1, "max", "min")]
        out = []
        for m in self.maxima(len(bases)):
            points = {"initial": m / self.div_factor, "max": m, "min": m / self.div_factor / self.final_div_factor}
            start_step = 0
            for i, (end_step, a, b) in enumerate(ends):
                if k <= end_step or i == len(ends) - 1:
                    out.append(anneal(self.anneal_strategy, points[a], points[b],
                                      (k - start_step) / (end_step - start_step)))
                    break
                start_step = end_step
        return out


def anneal(strategy: str, start: float, end: float, pct: float) -> float:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


@dataclass
class CosineRestart(Phase):
    periods: Optional[Sequence[int]] = None
    restart_weights: Sequence[float] = (1,)
    eta_min: Optional[float] = None
    eta_min_ratio: Optional[float] = None
    STEP_FIELDS = ("periods",)

    def __post_init__(self) -> None:
        required(self, "periods")
        if (self.eta_min is None) == (self.eta_min_ratio is None):
            raise ConfigError("eta_min", "set exactly one of eta_min and eta_min_ratio (MMEngine asserts it)",
                              [self.eta_min, self.eta_min_ratio])
        if len(self.periods) != len(self.restart_weights):
            raise ConfigError("restart_weights", "needs one weight per period", list(self.restart_weights))

    def value(self, k: int, current: Values, bases: Values) -> Values:
        ends = [sum(self.periods[:i + 1]) for i in range(len(self.periods))]
        idx = next((i for i, end in enumerate(ends) if k < end), None)
        if idx is None:
            return kept(current)
        step = k - (0 if idx == 0 else ends[idx - 1])
        period = self.periods[idx]
        out = []
        for v, b in zip(current, bases):
            e = eta(self.eta_min, self.eta_min_ratio, b)
            if step == 0:
                out.append(b * self.restart_weights[idx])
            else:
                out.append((1 + math.cos(math.pi * step / period)) / (1 + math.cos(math.pi * (step - 1) / period))
                           * (v - e) + e)
        return out


# MMEngine's scheduler names without the LR / Momentum / ParamScheduler suffix.
PHASES: dict[str, type[Phase]] = {
    "Step": Step, "MultiStep": MultiStep, "Constant": Constant, "Exponential": Exponential,
    "CosineAnnealing": CosineAnnealing, "Linear": Linear, "Poly": Poly, "OneCycle": OneCycle,
    "CosineRestart": CosineRestart,
}
