"""`schedule=plateau`: the lr divided when a validation metric stops improving (torch
`ReduceLROnPlateau`, MMEngine `ReduceOnPlateauLR`).

The curve cannot be known in advance: until the first reduction the lr is each group's base
(times the warmup), and `PlateauTracker.observe` — called after every validation — may
replace it. The policy's `lr` reads the current values, and the tracker tells the
`Scheduler` to recompute its tables (`invalidate`) after a reduction, so the per-step cost
stays a table lookup. The tracker's state travels in `Progress.plateau` (every checkpoint).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.policy import LrPolicy

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


def is_better(value: float, best: float, mode: str, threshold: float, threshold_mode: str) -> bool:
    """torch `ReduceLROnPlateau._is_better`."""
    if mode == "min":
        return value < (best * (1 - threshold) if threshold_mode == "rel" else best - threshold)
    return value > (best * (threshold + 1) if threshold_mode == "rel" else best + threshold)


@dataclass
class Plateau(LrPolicy):
    """torch `ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode, cooldown,
    min_lr, eps)` stepped with `monitor` after every validation (every `trainer.eval_every`
    epochs): after more than `patience` validations without an improvement (by `threshold`,
    relative or absolute), each group's lr becomes `max(lr · factor, min_lr)` unless that
    changes it by no more than `eps`; then `cooldown` validations pass before bad ones count."""

    monitor: str = "val/loss"  # a validation metric: val/loss, val/acc, val_raw/... (EMA/SWA runs)
    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if not self.monitor.startswith(("val/", "val_raw/")):
            raise ConfigError("monitor", "must name a validation metric", self.monitor, ["val/loss", "val/acc"])
        if self.mode not in MODES:
            raise ConfigError("mode", "unknown value", self.mode, MODES)
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ConfigError("threshold_mode", "unknown value", self.threshold_mode, THRESHOLD_MODES)
        if not 0 < self.factor < 1:
            raise ConfigError("factor", "must be in (0, 1)", self.factor)
        for key in ("patience", "cooldown"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(key, "must be an int >= 0", value)
        for key in ("threshold", "min_lr", "eps"):
            if not getattr(self, key) >= 0:
                raise ConfigError(key, "must be >= 0", getattr(self, key))
        self.current: Optional[np.ndarray] = None  # each group's lr once reduced (runtime state)

    def lr(self, base, progress, total):
        return base if self.current is None else np.asarray(self.current, dtype=float)[:, None] + 0 * base


class PlateauTracker:
    """The state of `ReduceLROnPlateau.step` (best, bad validations, cooldown) and the
    groups' reduced lrs, kept in `progress.plateau`."""

    def __init__(self, policy: Plateau, scheduler: Any) -> None:
        self.policy, self.scheduler = policy, scheduler

    def fresh(self) -> dict[str, Any]:
        best = math.inf if self.policy.mode == "min" else -math.inf
        return {"best": best, "num_bad": 0, "cooldown_counter": 0, "lrs": None}

    def restore(self, state: dict[str, Any]) -> None:
        """At the start of `fit`: a resumed run's reduced lrs back in the policy."""
        if state and state["lrs"] is not None:
            self.policy.current = np.asarray(state["lrs"], dtype=float)
            self.scheduler.invalidate()

    def observe(self, metrics: dict[str, float], state: dict[str, Any]) -> dict[str, Any]:
        """After a validation: the new state (reducing the lrs when the metric has stalled)."""
        p = self.policy
        if p.monitor not in metrics:
            raise ConfigError("schedule.monitor", "is not a metric this run validates", p.monitor, sorted(metrics))
        state = dict(state or self.fresh())
        value = metrics[p.monitor]
        if is_better(value, state["best"], p.mode, p.threshold, p.threshold_mode):
            state["best"], state["num_bad"] = value, 0
        else:
            state["num_bad"] += 1
        if state["cooldown_counter"] > 0:
            state["cooldown_counter"] -= 1
            state["num_bad"] = 0
        if state["num_bad"] > p.patience:
            lrs = list(state["lrs"] if state["lrs"] is not None else self.scheduler.base_lrs)
            for i, old in enumerate(lrs):
                new = max(old * p.factor, p.min_lr)
                if old - new > p.eps:
                    lrs[i] = new
            state["lrs"], state["cooldown_counter"], state["num_bad"] = lrs, p.cooldown, 0
            self.restore(state)
        return state
