"""The scheduler's only state is the step counter (bases live in the optimizer state):
resuming anywhere, mid-warmup or mid-epoch, continues with the identical curve."""
from __future__ import annotations

import pytest
import torch

from optkit.schedule import Scheduler, Timeline
from optkit.schedule.build import build_schedule
from tests.conftest import compose_config

TIMELINE = Timeline(iters_per_epoch=7, max_iters=70)


def optimizer(kind):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    if kind == "sgd":
        return torch.optim.SGD([{"params": [p], "lr": lr, "momentum": 0.9} for p, lr in zip(params, (0.1, 0.02, 1e-5))])
    return torch.optim.AdamW([{"params": [p], "lr": lr} for p, lr in zip(params, (1e-3, 2e-4, 1e-7))])


def written(opt):
    return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]


CONFIGS = [
    ("sgd", ["schedule=cosine", "warmup=linear", "warmup.iters=20", "momentum=cosine", "momentum.warmup=exp",
             "momentum.warmup_iters=15", "momentum.min_momentum_ratio=0.5"]),
    ("sgd", ["schedule=step", "schedule.step=[2,5]", "warmup=exp", "warmup.iters=2", "warmup.by_epoch=true",
             "momentum=step", "momentum.step=[3]"]),
    ("adamw", ["schedule=cyclic", "momentum=cyclic", "warmup=constant", "warmup.iters=12"]),
    ("adamw", ["schedule=onecycle", "schedule.max_lr=[0.01,0.02,0.03]", "schedule.total_steps=90",
               "momentum=onecycle", "warmup=linear", "warmup.iters=10"]),
    ("sgd", ["schedule=poly", "schedule.by_epoch=false", "warmup=linear", "warmup.iters=30"]),
]


@pytest.mark.parametrize("kind,overrides", CONFIGS, ids=[" ".join(o[:2]) for _, o in CONFIGS])
@pytest.mark.parametrize("resume_at", [9, 17, 23])  # mid-warmup and mid-epoch (7 steps per epoch)
def test_resume_continues_the_identical_curve(kind, overrides, resume_at):
    schedule = build_schedule(compose_config(overrides), TIMELINE)
    straight = optimizer(kind)
    scheduler = Scheduler(straight, schedule)
    expected = []
    for step in range(TIMELINE.max_iters):
        scheduler.apply(step)
        expected.append(written(straight))

    first = optimizer(kind)
    scheduler = Scheduler(first, schedule)
    for step in range(resume_at):
        scheduler.apply(step)
    state = first.state_dict()  # what a checkpoint holds: the current lr/momentum and the bases

    resumed = optimizer(kind)
    resumed.load_state_dict(state)
    scheduler = Scheduler(resumed, build_schedule(compose_config(overrides), TIMELINE))
    for step in range(resume_at, TIMELINE.max_iters):
        scheduler.apply(step)
        assert written(resumed) == expected[step], step
