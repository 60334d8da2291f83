"""Warmup: MMCV's lr warmup (a multiplier) and the factor the momentum warmup divides by."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.timeline import Timeline

KINDS = ("constant", "linear", "exp")


def warmup_factor(kind: str, step: np.ndarray, length: int, ratio: float) -> np.ndarray:
    """MMCV `get_warmup_lr` for steps `step < length`: constant `ratio`; linear
    `1 − (1 − i/W)(1 − ratio)`; exp `ratio^(1 − i/W)`. Starts at `ratio`, never reaches 1."""
    frac = step / length
    if kind == "constant":
        return np.full_like(frac, ratio, dtype=float)
    if kind == "linear":
        return 1 - (1 - frac) * (1 - ratio)
    return ratio ** (1 - frac)


def check_warmup(kind: Optional[str], iters: int, ratio: float, keys: tuple[str, str, str]) -> None:
    """MMCV's checks: a known kind, `iters > 0` and `0 < ratio <= 1` when a warmup is set."""
    kind_key, iters_key, ratio_key = keys
    if kind is None:
        return
    if kind not in KINDS:
        raise ConfigError(kind_key, "unknown warmup", kind, KINDS)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters <= 0:
        raise ConfigError(iters_key, "must be an int > 0 when a warmup is set", iters)
    if not 0 < ratio <= 1:
        raise ConfigError(ratio_key, "must be in (0, 1]", ratio)


@dataclass
class Warmup:
    """MMCV lr warmup (`warmup`, `warmup_iters`, `warmup_ratio`, `warmup_by_epoch`).

    For step i < W the lr is the regular lr of that moment times `warmup_factor`.
    Warmup is always applied per step, even when the policy is by epoch (then it multiplies
    the *epoch's* regular lr, which can jump at an epoch boundary inside the warmup);
    `by_epoch` only means `iters` counts epochs, W = iters · iters_per_epoch (MMCV converts
    with `len(data_loader)`; optkit's clock is the optimizer step, the same thing without
    gradient accumulation, or the micro-batch with `grad.remainder=mmcv`). From step W on
    the lr is the regular lr.
    """

    kind: Optional[str] = None
    iters: int = 500
    ratio: float = 0.1
    by_epoch: bool = False

    def __post_init__(self) -> None:
        check_warmup(self.kind, self.iters, self.ratio, ("kind", "iters", "ratio"))

    def length(self, timeline: Timeline) -> int:
        """W, the number of warmup steps (0 when there is no warmup)."""
        return 0 if self.kind is None else timeline.iters(self.iters, self.by_epoch)

    def factor(self, step: np.ndarray, length: int) -> np.ndarray:
        """The multiplier for steps `step < length` (values at later steps are meaningless)."""
        return warmup_factor(self.kind, step, length, self.ratio)
