"""How long a run is, in optimizer steps: the one time unit of every schedule."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Timeline:
    """`iters_per_epoch` optimizer steps per epoch, `max_iters` in the whole run.

    MMCV's EpochBasedRunner has `max_iters = max_epochs · len(loader)`; a run bounded by
    `trainer.max_iters` instead has `ceil(max_iters / iters_per_epoch)` epochs, the last one
    possibly partial, and by-epoch policies count those.
    """

    iters_per_epoch: int
    max_iters: int

    @property
    def max_epochs(self) -> int:
        return math.ceil(self.max_iters / self.iters_per_epoch)

    def iters(self, epochs_or_iters: int, by_epoch: bool) -> int:
        """An epoch-valued setting (warmup length, step size) converted to steps."""
        return epochs_or_iters * self.iters_per_epoch if by_epoch else epochs_or_iters
