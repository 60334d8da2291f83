"""The run's `Schedule` from the composed config (shared by training and `plot_lr`)."""
from __future__ import annotations

from typing import Any

from optkit.errors import warn
from optkit.instantiate import instantiate_at
from optkit.schedule.curve import PolicyCurve, Schedule
from optkit.schedule.policy import under
from optkit.schedule.timeline import Timeline


def build_schedule(cfg: Any, timeline: Timeline) -> Schedule:
    """Instantiate the policies, run their checks that need the run length, and warn about
    a warmup that covers the whole run (legal: recipes are smoke-tested with a few steps)."""
    policy = instantiate_at("schedule", cfg.schedule)
    warmup = instantiate_at("warmup", cfg.warmup)
    momentum = None if cfg.get("momentum") is None else instantiate_at("momentum", cfg.momentum)
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
    extra = ()
    if cfg.get("wd_schedule") is not None:
        wd_policy = instantiate_at("wd_schedule", cfg.wd_schedule)
        extra = (PolicyCurve("weight_decay", wd_policy, node="wd_schedule"),)
    return Schedule(policy, warmup, timeline, momentum, extra)
