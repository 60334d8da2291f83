"""The run's `Schedule` from the composed config (shared by training and `plot_lr`)."""
from __future__ import annotations

from typing import Any

from optkit.instantiate import instantiate_at
from optkit.schedule.curve import Schedule
from optkit.schedule.timeline import Timeline


def build_schedule(cfg: Any, timeline: Timeline) -> Schedule:
    policy = instantiate_at("schedule", cfg.schedule)
    warmup = instantiate_at("warmup", cfg.warmup)
    momentum = None if cfg.get("momentum") is None else instantiate_at("momentum", cfg.momentum)
    policy.check(timeline)
    return Schedule(policy, warmup, timeline, momentum)
