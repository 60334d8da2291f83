"""A run as far as it can be built without data or memory: the model on the meta device,
its param groups, the schedule's timeline and the schedule itself.

`validate.check` builds it so that every check that needs the model or the run length
happens before Hydra creates a directory (a custom key that matches no parameter, a
momentum schedule for an optimizer without momentum, SparseAdam on parameters it
cannot step, LBFGS given several param groups, more cycles than steps, a batch larger
than the data with drop_last).
`plot_lr` draws its curves from it. A model on the meta device allocates nothing, so this
costs milliseconds even for a large model and runs for every job of a sweep.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from optkit import distributed
from optkit.data import describe
from optkit.models.build import build_model
from optkit.optim import build_optimizer
from optkit.plan import make_timeline
from optkit.schedule import Timeline
from optkit.schedule.build import build_schedule
from optkit.schedule.curve import Schedule


@dataclass
class Preview:
    model: nn.Module  # on the meta device
    groups: list[dict[str, Any]]  # the optimizer's param groups (name, lr, weight_decay, ...)
    timeline: Timeline
    schedule: Schedule
    in_shape: tuple[int, ...]  # of the data's samples


def preview(cfg: Any, iters_per_epoch: Optional[int] = None) -> Preview:
    """Build `cfg`'s model (meta device), optimizer groups, timeline and schedule, running
    their checks; `iters_per_epoch` replaces the data set's (plot_lr's option)."""
    info = describe(cfg.data)
    with torch.device("meta"):
        model = build_model(cfg.model, info)
    dist = distributed.detect()
    groups = build_optimizer(model, cfg, dist.world_size).param_groups
    timeline = make_timeline(cfg, info.num_train, dist, iters_per_epoch)
    schedule = build_schedule(cfg, timeline)
    schedule.check_groups(groups)
    return Preview(model, groups, timeline, schedule, tuple(info.in_shape))
