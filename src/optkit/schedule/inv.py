from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from optkit.errors import ConfigError
from optkit.schedule.policy import LrPolicy, required


@dataclass
class Inv(LrPolicy):
    """MMCV `InvLrUpdaterHook` (Caffe's "inv"): `lr = base · (1 + gamma·progress)^(−power)`.

    `gamma` is required, as in MMCV (conf/schedule/inv.yaml gives a recipe value).
    """

    gamma: Optional[float] = None
    power: float = 1.0

    def __post_init__(self) -> None:
        if required(self.gamma, "gamma", "schedule=inv") < 0:
            raise ConfigError("gamma", "must be >= 0", self.gamma)
        if self.power < 0:
            raise ConfigError("power", "must be >= 0", self.power)

    def lr(self, base, progress, total):
        return base * (1 + self.gamma * progress) ** (-self.power)
