from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.policy import LrPolicy


@dataclass
class InverseSqrt(LrPolicy):
    """Inverse square root decay (fairseq `inverse_sqrt`, "Attention Is All You Need");
    not an MMCV policy: `lr = base · sqrt(timescale / max(progress, timescale))`.

    Flat at base until `timescale`, then ∝ 1/√progress. With `warmup=linear
    warmup.iters=<timescale>` this is fairseq's schedule (whose `warmup_updates` is the
    timescale), except that MMCV's linear warmup starts at `ratio · base`, not at 0.
    Per iteration by default.
    """

    by_epoch: bool = False
    timescale: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.timescale, bool) or not isinstance(self.timescale, int) or self.timescale < 1:
            raise ConfigError("timescale", "must be an int >= 1", self.timescale)

    def lr(self, base, progress, total):
        return base * np.sqrt(self.timescale / np.maximum(progress, self.timescale))
