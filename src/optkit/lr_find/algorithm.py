"""The lr range test's algorithm, pure: the lr ramp, the smoothed loss and its stop rule, the
suggestions. L. N. Smith, "Cyclical Learning Rates for Training Neural Networks" (2017),
§3.3; the smoothing, stop rule and suggestions follow fastai's and Lightning's lr finders.

    exp:     lr_i = min_lr · (max_lr / min_lr)^(i / (N − 1))
    linear:  lr_i = min_lr + (max_lr − min_lr) · i / (N − 1)

Loss: each step's loss as training logs it (the window's weighted mean), smoothed by a
bias-corrected exponential moving average, `a_i = β a_{i−1} + (1 − β) x_i`,
`s_i = a_i / (1 − β^{i+1})`. The test stops at the first step with `s_i > diverge · min_{j<i} s_j`
or a loss that is not finite. Suggestions: the steepest descent of `s` against log(lr), searched
after the first tenth of the steps and before the minimum of `s` (where the loss is falling);
and the lr of that minimum / 10 (fastai's `lr_min`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from optkit.errors import ConfigError

MODES = ("exp", "linear")
SKIP_START = 0.1  # the slope search skips this fraction of the steps: the smoothed curve starts on few losses


@dataclass(frozen=True)
class RangeTest:
    """The test's settings (the tool's arguments, not config keys)."""

    num_iters: int = 100  # optimizer steps
    min_lr: float = 1e-7  # base lr of the first step
    max_lr: float = 10.0  # base lr of the last step
    mode: str = "exp"  # exp: evenly spaced in log(lr); linear: in lr
    smooth: float = 0.98  # β of the loss's moving average (0: no smoothing)
    diverge: float = 4.0  # stop once the smoothed loss exceeds this × its minimum

    def __post_init__(self) -> None:
        if self.num_iters < 2:
            raise ConfigError("num_iters", "must be an int >= 2", self.num_iters)
        if not 0 < self.min_lr < self.max_lr:
            raise ConfigError("min_lr", f"must be > 0 and below max_lr={self.max_lr:g}", self.min_lr)
        if self.mode not in MODES:
            raise ConfigError("mode", "unknown ramp", self.mode, MODES)
        if not 0 <= self.smooth < 1:
            raise ConfigError("smooth", "must be in [0, 1)", self.smooth)
        if not self.diverge > 1:
            raise ConfigError("diverge", "must be > 1", self.diverge)

    @classmethod
    def from_args(cls, tool: dict[str, str]) -> "RangeTest":
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in tool:
                continue
            text = tool[f.name]
            kind = {"int": (int, "an int"), "float": (float, "a number")}.get(str(f.type))
            try:
                kwargs[f.name] = text if kind is None else kind[0](text)
            except ValueError:
                raise ConfigError(f.name, f"must be {kind[1]}", text) from None
        return cls(**kwargs)

    def lrs(self) -> np.ndarray:
        return lr_ramp(self.min_lr, self.max_lr, self.num_iters, self.mode)


def lr_ramp(min_lr: float, max_lr: float, n: int, mode: str) -> np.ndarray:
    """The base lr of each of `n` steps, from `min_lr` to `max_lr` inclusive."""
    frac = np.arange(n) / (n - 1)
    if mode == "exp":
        return min_lr * (max_lr / min_lr) ** frac
    return min_lr + (max_lr - min_lr) * frac


class SmoothedLoss:
    """The bias-corrected moving average of the losses so far and the stop rule."""

    def __init__(self, beta: float, diverge: float) -> None:
        self.beta = beta
        self.diverge = diverge
        self.values: list[float] = []
        self.avg = 0.0
        self.best = math.inf

    def add(self, loss: float) -> bool:
        """Smooth one more loss; True when the test has diverged."""
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        value = self.avg / (1 - self.beta ** (len(self.values) + 1))
        self.values.append(value)
        if not math.isfinite(value) or value > self.diverge * self.best:
            return True
        self.best = min(self.best, value)
        return False


def steepest_descent(lrs: np.ndarray, smoothed: np.ndarray) -> Optional[int]:
    """The step where the smoothed loss falls fastest against log(lr), between the first
    `SKIP_START` of the steps and the smoothed minimum; None when it never fell there."""
    if not np.isfinite(smoothed).any():
        return None
    low = int(len(smoothed) * SKIP_START)
    high = int(np.nanargmin(smoothed))
    if high - low < 2:
        return None
    slope = np.gradient(smoothed[low : high + 1], np.log(lrs[low : high + 1]))
    return low + int(np.argmin(slope))


@dataclass
class Curve:
    """What the test recorded: one entry per step run (the diverging step last, if any)."""

    lr: np.ndarray  # base lr (optimizer.lr) of each step
    loss: np.ndarray
    smoothed: np.ndarray
    stopped_at: Optional[int]  # the step that diverged; None when all num_iters ran
    seconds: float  # wall time of the steps, the final read included

    @property
    def suggestion(self) -> Optional[int]:
        return steepest_descent(self.lr, self.smoothed)

    @property
    def min_loss_lr(self) -> float:
        """The lr where the smoothed loss is smallest (nan when no loss was finite)."""
        if not np.isfinite(self.smoothed).any():
            return math.nan
        return float(self.lr[np.nanargmin(self.smoothed)])
