"""Weight-decay schedules (`wd_schedule=`), applied per param group like the lr."""
from __future__ import annotations

from dataclasses import dataclass

from optkit.errors import ConfigError
from optkit.schedule.anneal import cosine_anneal
from optkit.schedule.policy import LrPolicy


@dataclass
class CosineWeightDecay(LrPolicy):
    """Cosine from each group's weight decay to `end_ratio` times it: MMPretrain's
    `CosineAnnealingWeightDecay` (MMEngine `CosineAnnealingParamScheduler` on
    `weight_decay`, with `eta_min_ratio`) and DINO's `cosine_scheduler(weight_decay,
    weight_decay_end, epochs, niter_per_ep)`, which rises (DINO: 0.04 → 0.4, `end_ratio=10`):

        wd(t) = wd·r + ½·(wd − wd·r)·(1 + cos(π·t/T))

    per optimizer step (DINO; `by_epoch=true` changes it at epoch starts), t/T as the lr
    policies count it. A ratio, not an absolute end, so groups without weight decay
    (`decay_mult=0`: biases, norms) keep none.
    """

    by_epoch: bool = False
    end_ratio: float = 0.0

    def __post_init__(self) -> None:
        if not self.end_ratio >= 0:
            raise ConfigError("end_ratio", "must be >= 0", self.end_ratio)

    def lr(self, base, progress, total):
        return cosine_anneal(base, base * self.end_ratio, progress / total)


WD_POLICIES = {"cosine": CosineWeightDecay}
