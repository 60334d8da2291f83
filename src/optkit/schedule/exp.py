from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from optkit.errors import ConfigError
from optkit.schedule.policy import LrPolicy, required


@dataclass
class Exp(LrPolicy):
    """MMCV `ExpLrUpdaterHook`: `lr = base · gamma^progress` (per epoch by default).

    `gamma` is required, as in MMCV (conf/schedule/exp.yaml gives a recipe value).
    """

    gamma: Optional[float] = None

    def __post_init__(self) -> None:
        if required(self.gamma, "gamma", "schedule=exp") <= 0:
            raise ConfigError("gamma", "must be > 0", self.gamma)

    def lr(self, base, progress, total):
        return base * self.gamma**progress
