"""The scheduler writes exactly the curve, for any step, in any order (so resume is exact)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optkit.schedule import CosineAnnealing, Fixed, Schedule, Scheduler, Step, Timeline, Warmup, lr_curve


def optimizer(lrs):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=1.0, momentum=0.9)


def test_scheduler_writes_the_curve_in_any_order():
    timeline = Timeline(iters_per_epoch=7, max_iters=3000)
    schedule = Schedule(CosineAnnealing(by_epoch=False, min_lr_ratio=0.01), Warmup("linear", 50, 0.1), timeline)
    opt = optimizer([0.1, 0.01])
    scheduler = Scheduler(opt, schedule)
    curve = lr_curve(schedule.lr_policy, schedule.warmup, [0.1, 0.01], np.arange(3000), timeline)
    for step in [0, 1, 49, 50, 1023, 1024, 2999, 5, 2000]:
        scheduler.apply(step)
        assert [g["lr"] for g in opt.param_groups] == curve[:, step].tolist()


def test_base_lr_survives_a_resumed_optimizer_state():
    timeline = Timeline(10, 100)
    opt = optimizer([0.1])
    Scheduler(opt, Schedule(Step(step=[2]), Warmup(), timeline)).apply(50)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    fresh = optimizer([0.1])
    fresh.load_state_dict(opt.state_dict())
    scheduler = Scheduler(fresh, Schedule(Step(step=[2]), Warmup(), timeline))
    assert scheduler.base_lrs == [0.1]


@pytest.mark.parametrize("policy,expected", [
    (Fixed(), lambda e: 0.1),
    (Step(step=2, gamma=0.5), lambda e: 0.1 * 0.5 ** (e // 2)),
    (Step(step=[1, 3]), lambda e: 0.1 * 0.1 ** sum(e >= m for m in (1, 3))),
    (CosineAnnealing(min_lr_ratio=0.0), lambda e: 0.5 * 0.1 * (1 + math.cos(math.pi * e / 5))),
])
def test_by_epoch_policies_hold_the_lr_for_a_whole_epoch(policy, expected):
    timeline = Timeline(iters_per_epoch=4, max_iters=20)
    curve = lr_curve(policy, Warmup(), [0.1], np.arange(20), timeline)[0]
    assert curve.tolist() == pytest.approx([expected(i // 4) for i in range(20)], rel=1e-12)
