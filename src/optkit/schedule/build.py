"""The run's `Schedule` from the composed config (shared by training and `plot_lr`)."""
from __future__ import annotations

from typing import Any

from optkit.errors import ConfigError, warn
from optkit.instantiate import instantiate_at
from optkit.schedule.chain import Chain
from optkit.schedule.curve import PolicyCurve, Schedule
from optkit.schedule.policy import under
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import Warmup


def build_schedule(cfg: Any, timeline: Timeline) -> Schedule:
    """Instantiate the policies, run their checks that need the run length, and warn about
    a warmup that covers the whole run (legal: recipes are smoke-tested with a few steps)."""
    policy = instantiate_at("schedule", cfg.schedule)
    warmup = instantiate_at("warmup", cfg.warmup)
    momentum = None if cfg.get("momentum") is None else instantiate_at("momentum", cfg.momentum)
    if isinstance(policy, Chain):
        return chain_schedule(policy, warmup, momentum, timeline, weight_decay_curves(cfg))
    with under("schedule"):
        policy.check(timeline)
    if warmup.length(timeline) >= timeline.max_iters:
        warn(f"warmup.iters: the warmup ({warmup.length(timeline)} steps) covers the whole run "
             f"({timeline.max_iters} steps); the lr never reaches the schedule")
    if momentum is not None:
        with under("momentum"):
            momentum.check(timeline)
        if momentum.warmup_length() >= timeline.max_iters:
            warn(f"momentum.warmup_iters: the momentum warmup ({momentum.warmup_length()} steps) covers the whole "
                 f"run ({timeline.max_iters} steps)")
    return Schedule(policy, warmup, timeline, momentum, extra=weight_decay_curves(cfg))


def weight_decay_curves(cfg: Any) -> tuple[PolicyCurve, ...]:
    """`wd_schedule=`: the weight-decay curve, if any (a chain that schedules weight decay too
    is refused by `Schedule`: two curves for one key)."""
    if cfg.get("wd_schedule") is None:
        return ()
    return (PolicyCurve("weight_decay", instantiate_at("wd_schedule", cfg.wd_schedule), node="wd_schedule"),)


def chain_schedule(chain: Chain, warmup: Warmup, momentum: Any, timeline: Timeline,
                   extra: tuple[PolicyCurve, ...] = ()) -> Schedule:
    """`schedule=chain`: a curve per key its schedulers write (`warmup` multiplies its lr, as
    it does any policy's); a momentum policy beside it may not drive a key the chain drives."""
    with under("schedule"):
        curves = chain.curves(timeline, warmup)
    if momentum is not None:
        with under("momentum"):
            momentum.check(timeline)
        if any(curve.key == "momentum" for curve in curves):
            raise ConfigError("momentum", "the chain schedules momentum too; use momentum=none", None)
    return Schedule(None, warmup, timeline, momentum, extra=(*curves, *extra))
