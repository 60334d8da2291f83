from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.anneal import Annealing, cosine_anneal, linear_anneal

SHAPES = ("linear", "cosine", "sqrt")


@dataclass
class WSD(Annealing):
    """Warmup-stable-decay (the trapezoid of MiniCPM and Hägele et al. 2024, "Scaling Laws
    and Compute-Optimal Training Beyond Fixed Training Durations"); not an MMCV policy.

    The warmup comes from the `warmup` group (e.g. `warmup=linear`); this policy holds the
    base lr until `start = total − round(total · decay_fraction)` and then decays to the
    target (`min_lr` or `base · min_lr_ratio`, default ratio 0) with f = (p − start)/(total − start):
    linear `base + (target − base)·f`, cosine `cosanneal(base, target, f)`, sqrt ("1−sqrt")
    `target + (base − target)·(1 − √f)`. Like the MMCV policies, the last step uses
    f = (D − 1)/D, so the target is approached, not reached. Per iteration by default.
    """

    by_epoch: bool = False
    decay_fraction: float = 0.2
    decay_shape: str = "linear"  # linear | cosine | sqrt

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.decay_fraction <= 1:
            raise ConfigError("decay_fraction", "must be in [0, 1]", self.decay_fraction)
        if self.decay_shape not in SHAPES:
            raise ConfigError("decay_shape", "unknown decay shape", self.decay_shape, SHAPES)

    def lr(self, base, progress, total):
        start = total - round(total * self.decay_fraction)
        f = np.clip((progress - start) / max(total - start, 1), 0, 1)
        target = self.target(base)
        if self.decay_shape == "linear":
            decayed = linear_anneal(base, target, f)
        elif self.decay_shape == "cosine":
            decayed = cosine_anneal(base, target, f)
        else:
            decayed = target + (base - target) * (1 - np.sqrt(f))
        return np.where(progress < start, base, decayed)
