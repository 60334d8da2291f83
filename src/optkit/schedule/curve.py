"""Whole curves: the value of every scheduled group key at a run of steps, in one numpy pass.

This is the MMCV hook sequence folded into array arithmetic: the regular value is the
policy at the current epoch (by-epoch policies, written in `before_train_epoch`) or step
(`before_train_iter`), and for steps inside the warmup the lr is multiplied by the warmup
factor (the momentum divided by it). A `Schedule` maps each group key it drives (`lr`,
`momentum`, `weight_decay`, a custom key) to one `Curve`; the trainer's scheduler and
`optkit.plot_lr` both read values from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Optional, Protocol, Sequence

import numpy as np

from optkit.errors import ConfigError, warn
from optkit.schedule.keys import group_key
from optkit.schedule.momentum import MomentumPolicy
from optkit.schedule.policy import LrPolicy, under
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import Warmup, warmup_factor


def progress_of(steps: np.ndarray, by_epoch: bool, timeline: Timeline) -> tuple[np.ndarray, int]:
    """(progress, total) as MMCV's `get_lr` sees them: epochs or steps."""
    if by_epoch:
        return steps // timeline.iters_per_epoch, timeline.max_epochs
    return steps, timeline.max_iters


def regular_curve(value: Callable, base: np.ndarray, steps: np.ndarray, by_epoch: bool,
                  timeline: Timeline) -> np.ndarray:
    """value(base, progress, total) for every group (rows of `base`) at every step."""
    progress, total = progress_of(steps, by_epoch, timeline)
    return np.broadcast_to(value(base, progress, total), (base.shape[0], steps.shape[0]))


def lr_curve(
    policy: LrPolicy,
    warmup: Warmup,
    bases: Sequence[float],
    steps: np.ndarray,
    timeline: Timeline,
) -> np.ndarray:
    """lr[g, j] used by the optimizer step `steps[j]` in param group g."""
    steps = np.asarray(steps, dtype=np.int64)
    base = np.asarray(policy.base_lrs(np.asarray(bases, dtype=float)), dtype=float)[:, None]
    lr = regular_curve(policy.lr, base, steps, policy.by_epoch, timeline)
    warm = warmup.length(timeline)
    if warm:
        lr = np.where(steps < warm, lr * warmup.factor(np.minimum(steps, warm), warm), lr)
    return np.ascontiguousarray(lr, dtype=float)


def momentum_curve(policy: MomentumPolicy, bases: Sequence[float], steps: np.ndarray,
                   timeline: Timeline) -> np.ndarray:
    """momentum[g, j] used by the optimizer step `steps[j]` in param group g (MMCV's momentum
    warmup divides by the factor, for the first `warmup_iters` iterations)."""
    steps = np.asarray(steps, dtype=np.int64)
    base = np.asarray(bases, dtype=float)[:, None]
    momentum = regular_curve(policy.momentum, base, steps, policy.by_epoch, timeline)
    warm = policy.warmup_length()
    if warm:
        factor = warmup_factor(policy.warmup, np.minimum(steps, warm), warm, policy.warmup_ratio)
        momentum = np.where(steps < warm, momentum / factor, momentum)
    return np.ascontiguousarray(momentum, dtype=float)


class Curve(Protocol):
    """The values of one group key over the run: `values(bases, steps, timeline)[g, j]` is
    the value of group g at step `steps[j]`, from each group's base (`base × multiplier`,
    optkit.schedule.keys). Pure: the same arguments give the same array."""

    key: str

    def values(self, bases: np.ndarray, steps: np.ndarray, timeline: Timeline) -> np.ndarray: ...

    def check(self, bases: Sequence[float], timeline: Timeline) -> None:
        """Raise `ConfigError` for what only the groups tell (per-group lists); may warn."""


@dataclass(frozen=True)
class PolicyCurve:
    """An lr policy and its warmup driving `key`: the lr itself, or any other key the same
    way (`PolicyCurve("weight_decay", CosineAnnealing(min_lr_ratio=0))` is MMPretrain's
    CosineAnnealingWeightDecay). `node` names the config node in error messages."""

    key: str
    policy: LrPolicy
    warmup: Warmup = field(default_factory=Warmup)
    node: str = "schedule"

    def values(self, bases: np.ndarray, steps: np.ndarray, timeline: Timeline) -> np.ndarray:
        return lr_curve(self.policy, self.warmup, bases, steps, timeline)

    def check(self, bases: Sequence[float], timeline: Timeline) -> None:
        with under(self.node):
            self.policy.check_groups(len(bases))


@dataclass(frozen=True)
class MomentumCurve:
    """A momentum policy (MMCV `MomentumUpdaterHook`) driving `momentum` / `betas[0]`."""

    policy: MomentumPolicy
    key: str = "momentum"

    def values(self, bases: np.ndarray, steps: np.ndarray, timeline: Timeline) -> np.ndarray:
        return momentum_curve(self.policy, bases, steps, timeline)

    def check(self, bases: Sequence[float], timeline: Timeline) -> None:
        with under("momentum"):
            self.policy.check_groups(len(bases))
        warm = min(self.policy.warmup_length(), timeline.max_iters)
        if warm:
            peak = self.values(np.asarray(bases, dtype=float), np.arange(warm), timeline).max()
            if peak > 1:
                warn(f"momentum.warmup_ratio: the momentum warmup divides the momentum by the warmup factor "
                     f"and reaches {peak:.4g} (> 1)")


@dataclass(frozen=True)
class Schedule:
    """Everything that decides the scheduled group keys of a run: key → `Curve`.

    `lr_policy` with `warmup` drives `lr`, `momentum_policy` (if any) `momentum`, and each
    curve of `extra` its own key (`weight_decay`, a custom optimizer's key; `lr_policy=None`
    leaves the lr to an extra curve). Keys appear once.
    """

    lr_policy: Optional[LrPolicy]
    warmup: Warmup
    timeline: Timeline
    momentum_policy: Optional[MomentumPolicy] = None
    extra: tuple[Curve, ...] = ()

    @cached_property
    def curves(self) -> dict[str, Curve]:
        found: list[Curve] = []
        if self.lr_policy is not None:
            found.append(PolicyCurve("lr", self.lr_policy, self.warmup))
        if self.momentum_policy is not None:
            found.append(MomentumCurve(self.momentum_policy))
        found.extend(self.extra)
        curves = {curve.key: curve for curve in found}
        if len(curves) < len(found):
            raise ConfigError("schedule", "two curves drive the same group key", [curve.key for curve in found])
        return curves

    def values(self, key: str, bases: Sequence[float], steps: np.ndarray) -> np.ndarray:
        """values[g, j] of `key` at `steps[j]` in the group whose base is `bases[g]`."""
        return self.curves[key].values(np.asarray(bases, dtype=float), np.asarray(steps, dtype=np.int64),
                                       self.timeline)

    def lr(self, bases: Sequence[float], steps: np.ndarray) -> np.ndarray:
        return self.values("lr", bases, steps)

    def momentum(self, groups: Sequence[dict], steps: np.ndarray) -> Optional[np.ndarray]:
        """momentum[g, j] of the momentum policy from the groups' momentum as built (before a
        run); None without one (the optimizer's own stays)."""
        if "momentum" not in self.curves:
            return None
        return self.values("momentum", [group_key("momentum").read(group) for group in groups], steps)

    def check(self, bases: dict[str, Sequence[float]]) -> None:
        """What can only be checked against the groups (`bases`: key → each group's base):
        per-group lists and (a warning) warmup momentum above 1."""
        for key, curve in self.curves.items():
            curve.check(bases[key], self.timeline)

    def check_groups(self, groups: Sequence[dict]) -> None:
        """`check` on groups as built: each key's base is its current value."""
        self.check({key: [group_key(key).read(group) for group in groups] for key in self.curves})
