"""Model EMA policies: how much of the current weights enters the average at each step.

Both are pure functions of the optimizer-step counter, so the average is resumed from the
counter and the stored average alone. `weight(t)` is the interpolation weight w of the update
after optimizer step t (t = 1, 2, ... steps done): `ema ← ema + w · (θ − ema)`, or None when
step t does not update.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from optkit.errors import ConfigError

BUFFERS = ("average", "copy")


def timm_decay(t: int, decay: float, start_step: int = 0, warmup: bool = False, warmup_gamma: float = 1.0,
               warmup_power: float = 2 / 3, min_decay: float = 0.0) -> float:
    """timm `ModelEmaV3.get_decay(step)`: 0 (the average copies the weights) up to step
    `start_step + 1`; then `decay`, or with warmup `1 − (1 + s/γ)^−p` clamped to
    [min_decay, decay], where s = t − start_step − 1."""
    s = max(0, t - start_step - 1)
    if s <= 0:
        return 0.0
    if not warmup:
        return decay
    return max(min(1 - (1 + s / warmup_gamma) ** -warmup_power, decay), min_decay)


def mmcv_momentum(i: int, momentum: float, interval: int, warm_up: int) -> float:
    """MMCV 1.x `EMAHook.after_train_iter` at `runner.iter` i (0-based): the configured
    momentum raised to `interval` (MMCV's `self.momentum = momentum**interval`), warmed up as
    `min(momentum^interval, (1 + i) / (warm_up + i))`."""
    return min(momentum**interval, (1 + i) / (warm_up + i))


def check_range(key: str, value: float, low: float, high: float, closed_high: bool = False) -> None:
    if not (low <= value <= high if closed_high else low <= value < high):
        raise ConfigError(key, f"must be in [{low}, {high}{']' if closed_high else ')'}", value)


def check_count(key: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, f"must be an int >= {minimum}", value)


@dataclass
class Ema:
    """Model EMA as timm's `ModelEmaV3` runs it (train.py: `update(model, step=num_updates)`
    after every optimizer step), updated every `update_every` steps with the decay of that
    step. `buffers=average` interpolates floating-point buffers too (timm's default);
    `copy` copies them (timm's `exclude_buffers`); integer buffers are always copied."""

    decay: float = 0.9998  # timm train.py --model-ema-decay
    update_every: int = 1  # optimizer steps between updates (each one foreach lerp)
    warmup: bool = False  # timm --model-ema-warmup: decay 1 − (1 + s/γ)^−p
    warmup_gamma: float = 1.0
    warmup_power: float = 2 / 3  # timm ModelEmaV3 default
    min_decay: float = 0.0
    start_step: int = 0  # timm update_after_step: the average copies the weights until then
    buffers: str = "average"  # average | copy

    def __post_init__(self) -> None:
        check_range("decay", self.decay, 0.0, 1.0)
        check_range("min_decay", self.min_decay, 0.0, self.decay, closed_high=True)
        check_count("update_every", self.update_every, 1)
        check_count("start_step", self.start_step, 0)
        if not self.warmup_gamma > 0:
            raise ConfigError("warmup_gamma", "must be > 0", self.warmup_gamma)
        if not self.warmup_power > 0:
            raise ConfigError("warmup_power", "must be > 0", self.warmup_power)
        if self.buffers not in BUFFERS:
            raise ConfigError("buffers", "unknown value", self.buffers, BUFFERS)

    @property
    def average_buffers(self) -> bool:
        return self.buffers == "average"

    def weight(self, t: int) -> Optional[float]:
        if t % self.update_every:
            return None
        return 1.0 - timm_decay(t, self.decay, self.start_step, self.warmup, self.warmup_gamma,
                                self.warmup_power, self.min_decay)


@dataclass
class MmcvEma:
    """MMCV 1.x `EMAHook` (mmdet / mmcls `custom_hooks=[dict(type='EMAHook', ...)]`):
    parameters only (buffers are the live model's), `ema ← (1 − m) · ema + m · θ` on
    iterations i with `i % interval == 0`, m from `mmcv_momentum`. MMCV counts runner
    iterations (micro-batches under gradient accumulation); optkit counts optimizer steps,
    i = t − 1, the same without accumulation."""

    momentum: float = 0.0002
    interval: int = 1
    warm_up: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.momentum < 1:
            raise ConfigError("momentum", "must be in (0, 1)", self.momentum)
        check_count("interval", self.interval, 1)
        check_count("warm_up", self.warm_up, 1)

    @property
    def average_buffers(self) -> bool:
        return False

    def weight(self, t: int) -> Optional[float]:
        i = t - 1
        if i % self.interval:
            return None
        return mmcv_momentum(i, self.momentum, self.interval, self.warm_up)
