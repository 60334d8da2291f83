from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.timeline import Timeline

KINDS = ("constant", "linear", "exp")


@dataclass
class Warmup:
    """MMCV lr warmup (`warmup`, `warmup_iters`, `warmup_ratio`, `warmup_by_epoch`).

    For step i < W the lr is the regular lr of that moment times
    constant `ratio`; linear `1 − (1 − i/W)(1 − ratio)`; exp `ratio^(1 − i/W)`.
    Warmup is always applied per step, even when the policy is by epoch; `by_epoch`
    only means `iters` counts epochs (W = iters · iters_per_epoch). The factor starts at
    `ratio` and never reaches 1 inside the warmup.
    """

    kind: Optional[str] = None
    iters: int = 500
    ratio: float = 0.1
    by_epoch: bool = False

    def __post_init__(self) -> None:
        if self.kind is None:
            return
        if self.kind not in KINDS:
            raise ConfigError("kind", "unknown warmup", self.kind, KINDS)
        if self.iters <= 0:
            raise ConfigError("iters", "must be > 0 when a warmup is set", self.iters)
        if not 0 < self.ratio <= 1:
            raise ConfigError("ratio", "must be in (0, 1]", self.ratio)

    def length(self, timeline: Timeline) -> int:
        """W, the number of warmup steps (0 when there is no warmup)."""
        return 0 if self.kind is None else timeline.iters(self.iters, self.by_epoch)

    def factor(self, step: np.ndarray, length: int) -> np.ndarray:
        """The multiplier for steps `step < length` (values at later steps are meaningless)."""
        frac = step / length
        if self.kind == "constant":
            return np.full_like(frac, self.ratio, dtype=float)
        if self.kind == "linear":
            return 1 - (1 - frac) * (1 - self.ratio)
        return self.ratio ** (1 - frac)
