from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optkit.schedule.policy import LrPolicy


@dataclass
class Fixed(LrPolicy):
    """MMCV `FixedLrUpdaterHook`: the lr stays at each group's base lr."""

    def lr(self, base, progress, total):
        return base * np.ones_like(progress, dtype=float)
