"""The scheduler drives any group key from per-step tables: each group's value is the key's
curve at `base × multiplier`, the base from the optimizer (its config), the multiplier kept
in the group (optkit.schedule.keys)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optkit.errors import ConfigError
from optkit.schedule import (CosineAnnealing, CyclicMomentum, Fixed, PolicyCurve, Schedule, Scheduler, Step,
                             Timeline, Warmup, lr_curve, momentum_curve)
from optkit.schedule.keys import multiplier, scaled

TIMELINE = Timeline(iters_per_epoch=5, max_iters=40)
COSINE = CosineAnnealing(by_epoch=False, min_lr_ratio=0.1)
STEP = Step(step=[3], gamma=0.5)


class EMAOptimizer(torch.optim.SGD):
    """A custom optimizer with one more per-group hyper-parameter, declared schedulable."""

    scheduled_keys = ("ema_decay",)

    def __init__(self, params, lr=0.1, ema_decay=0.99):
        torch.optim.Optimizer.__init__(self, params, dict(lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                                          nesterov=False, maximize=False, foreach=None,
                                                          differentiable=False, fused=None, ema_decay=ema_decay))


def params(n):
    return [torch.nn.Parameter(torch.zeros(1)) for _ in range(n)]


def sgd():
    """Two groups as optkit's constructor builds them: multipliers of lr 0.1 and weight decay 1e-4."""
    a, b = params(2)
    return torch.optim.SGD([{"params": [a], "lr": 0.1, "lr_mult": 1.0, "weight_decay": 1e-4, "decay_mult": 1.0},
                            {"params": [b], "lr": 0.2, "lr_mult": 2.0, "weight_decay": 5e-5, "decay_mult": 0.5}],
                           lr=0.1, momentum=0.9, weight_decay=1e-4)


def adamw():
    a, b = params(2)
    return torch.optim.AdamW([{"params": [a]}, {"params": [b], "lr": 3e-4, "betas": (0.8, 0.95)}], lr=1e-3,
                             betas=(0.9, 0.999), weight_decay=0.05)


def ema():
    a, b = params(2)
    return EMAOptimizer([{"params": [a]}, {"params": [b], "ema_decay": 0.9}], lr=0.1, ema_decay=0.99)


def read(group, key):
    return group["betas"][0] if key == "momentum" and "betas" in group else group[key]


# (optimizer, schedule's extra curves and momentum policy, {key: (expected bases, curve of the bases)})
CASES = {
    "sgd lr+momentum+weight_decay": (
        sgd, dict(momentum_policy=CyclicMomentum(by_epoch=False),
                  extra=(PolicyCurve("weight_decay", STEP, node="wd_schedule"),)),
        {"lr": [0.1, 0.2], "momentum": [0.9, 0.9], "weight_decay": [1e-4, 5e-5]}),
    "adamw betas[0] and weight_decay": (
        adamw, dict(momentum_policy=CyclicMomentum(by_epoch=False), extra=(PolicyCurve("weight_decay", COSINE),)),
        {"lr": [1e-3, 3e-4], "momentum": [0.9, 0.8], "weight_decay": [0.05, 0.05]}),
    "custom key": (
        ema, dict(extra=(PolicyCurve("ema_decay", STEP, Warmup("linear", 4, 0.5)),)),
        {"lr": [0.1, 0.1], "ema_decay": [0.99, 0.9]}),
}


def expected_curve(schedule, key, bases):
    curve = schedule.curves[key]
    if key == "momentum":
        return momentum_curve(curve.policy, bases, np.arange(40), TIMELINE)
    return lr_curve(curve.policy, curve.warmup, bases, np.arange(40), TIMELINE)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("order", ["forward", "shuffled"])
def test_every_key_follows_its_curve_from_base_times_multiplier(case, order):
    make, kwargs, bases = CASES[case]
    optimizer = make()
    schedule = Schedule(COSINE, Warmup("linear", 5, 0.1), TIMELINE, **kwargs)
    scheduler = Scheduler(optimizer, schedule)
    assert scheduler.bases == bases  # exactly: base × multiplier gives the value each group was built with
    steps = list(range(40)) if order == "forward" else [39, 0, 17, 5, 4, 38, 1]
    curves = {key: expected_curve(schedule, key, scheduler.bases[key]) for key in bases}
    for step in steps:
        scheduler.apply(step)
        for key, curve in curves.items():
            assert [read(g, key) for g in optimizer.param_groups] == curve[:, step].tolist(), (key, step)
    if "betas" in optimizer.param_groups[0]:  # beta2 kept, a tuple as torch expects
        assert [g["betas"][1] for g in optimizer.param_groups] == [0.999, 0.95]
        assert all(isinstance(g["betas"], tuple) for g in optimizer.param_groups)


@pytest.mark.parametrize("make,key,mult,expected", [
    (sgd, "lr", "lr_mult", [1.0, 2.0]),  # set where the groups were built: kept
    (adamw, "lr", "lr_mult", [1.0, 0.3]),  # derived from the group's value, once
    (adamw, "momentum", "momentum_mult", [1.0, 0.8 / 0.9]),
    (adamw, "weight_decay", "decay_mult", [1.0, 1.0]),
    (ema, "ema_decay", "ema_decay_mult", [1.0, 0.9 / 0.99]),
])
def test_multipliers_are_kept_in_the_groups_and_travel_with_the_state(make, key, mult, expected):
    optimizer = make()
    curve = PolicyCurve(key, STEP) if key in ("weight_decay", "ema_decay") else None
    schedule = Schedule(STEP, Warmup(), TIMELINE, CyclicMomentum(by_epoch=False) if key == "momentum" else None,
                        extra=(curve,) if curve else ())
    Scheduler(optimizer, schedule).apply(30)  # values now far from the bases
    assert [g[mult] for g in optimizer.param_groups] == pytest.approx(expected, rel=1e-15)
    resumed = make()
    resumed.load_state_dict(optimizer.state_dict())
    again = Scheduler(resumed, schedule)
    assert again.bases[key] == Scheduler(make(), schedule).bases[key]  # the same bases, not today's values
    again.apply(30)
    assert [read(g, key) for g in resumed.param_groups] == [read(g, key) for g in optimizer.param_groups]


def test_legacy_bases_in_the_groups_become_multipliers():
    """A checkpoint before multipliers: `initial_lr` / `initial_momentum` hold the bases."""
    optimizer = sgd()
    for group, (lr, momentum) in zip(optimizer.param_groups, [(0.3, 0.95), (0.7, 0.85)]):
        del group["lr_mult"]
        group.update(initial_lr=lr, initial_momentum=momentum, lr=0.001, momentum=0.5)
    scheduler = Scheduler(optimizer, Schedule(Fixed(), Warmup(), TIMELINE, CyclicMomentum(by_epoch=False)))
    assert scheduler.bases["lr"] == [0.3, 0.7]
    assert scheduler.bases["momentum"] == pytest.approx([0.95, 0.85], rel=1e-15)
    assert not any(k.startswith("initial_") for g in optimizer.param_groups for k in g)
    assert [g["lr_mult"] for g in optimizer.param_groups] == pytest.approx([3.0, 7.0])


@pytest.mark.parametrize("value,base,exact", [
    (0.005, 0.05, True), (2e-4, 1e-3, True), (0.1 * 0.75 ** 5, 0.1, True), (0.3, 0.7, True), (0.9, 0.0, True),
    (0.8, None, True), (0.0, 0.0, True),
    (1e-7, 3e-4, False),  # base × m steps 1.23 ulps of the value per ulp of m: this one is stepped over
])
def test_a_multiplier_gives_the_value_back_exactly(value, base, exact):
    mult = multiplier(value, base)
    assert scaled(base, mult) == value if exact else abs(scaled(base, mult) - value) <= math.ulp(value)
    if base:
        assert math.isclose(mult, value / base, rel_tol=1e-15)
    else:  # relative to 1: the group's own value (SGD's default momentum is 0)
        assert mult == value


@pytest.mark.parametrize("make,extra,key,message", [
    (sgd, (PolicyCurve("ema_decay", STEP),), "schedule", "declares no scheduled key `ema_decay`"),
    (ema, (PolicyCurve("ema_decay", STEP), PolicyCurve("ema_decay", COSINE)), "schedule", "same group key"),
    (lambda: torch.optim.Adagrad(params(1), lr=0.1, weight_decay=0.0), (), "momentum", "neither"),
])
def test_what_cannot_be_scheduled_is_one_config_error(make, extra, key, message):
    momentum = CyclicMomentum(by_epoch=False) if key == "momentum" else None
    with pytest.raises(ConfigError) as err:
        Scheduler(make(), Schedule(STEP, Warmup(), TIMELINE, momentum, extra=extra))
    assert err.value.key == key and message in err.value.message()


def test_invalidate_recomputes_the_chunk():
    """A curve whose values change at run time (a rule driven by the validation metric)
    reaches the groups at the next step after `invalidate`."""

    class Scaled:
        key = "lr"

        def __init__(self):
            self.factor = 1.0

        def values(self, bases, steps, timeline):
            return np.broadcast_to(bases[:, None] * self.factor, (len(bases), len(steps)))

        def check(self, bases, timeline):
            pass

    curve = Scaled()
    optimizer = sgd()
    scheduler = Scheduler(optimizer, Schedule(None, Warmup(), TIMELINE, extra=(curve,)))
    scheduler.apply(3)
    curve.factor = 0.5
    scheduler.apply(4)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.2]  # the chunk was computed before
    scheduler.invalidate()
    scheduler.apply(4)
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.1]


def test_training_logs_every_scheduled_key_per_group():
    from optkit.loop import group_scalars

    optimizer = sgd()
    scheduler = Scheduler(optimizer, Schedule(COSINE, Warmup(), TIMELINE, CyclicMomentum(by_epoch=False),
                                              extra=(PolicyCurve("weight_decay", STEP),)))
    scheduler.apply(35)
    a, b = optimizer.param_groups
    assert group_scalars(["default", "bias"], optimizer.param_groups, scheduler.keys) == {
        "train/lr/default": a["lr"], "train/lr/bias": b["lr"], "train/momentum/default": a["momentum"],
        "train/momentum/bias": b["momentum"], "train/weight_decay/default": 1e-4 * 0.5,
        "train/weight_decay/bias": 5e-5 * 0.5}
    assert "train/weight_decay/bias" not in group_scalars(["default", "bias"], optimizer.param_groups, ["lr"])
