"""Momentum policies drive SGD `momentum` and Adam-family `betas[0]` alike, keep their base
in the optimizer state, and reach TensorBoard per named group."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from optkit.errors import ConfigError
from optkit.schedule import (LR_POLICIES, MOMENTUM_POLICIES, CyclicMomentum, Fixed, OneCycleMomentum, Schedule,
                             Scheduler, StepMomentum, Timeline, Warmup, momentum_curve)
from tests.conftest import compose_config


def params(n):
    return [torch.nn.Parameter(torch.zeros(1)) for _ in range(n)]


def sgd(momenta=(0.9, 0.8)):
    return torch.optim.SGD([{"params": [p], "momentum": m} for p, m in zip(params(len(momenta)), momenta)], lr=0.1)


def adam(betas=((0.9, 0.999), (0.8, 0.95))):
    return torch.optim.Adam([{"params": [p], "betas": b} for p, b in zip(params(len(betas)), betas)], lr=1e-3)


TIMELINE = Timeline(iters_per_epoch=5, max_iters=40)


def schedule(momentum):
    return Schedule(Fixed(), Warmup(), TIMELINE, momentum)


def test_sgd_gets_momentum_and_adam_gets_beta1_with_beta2_kept():
    policy = CyclicMomentum()
    for optimizer, key in ((sgd(), "momentum"), (adam(), "betas")):
        scheduler = Scheduler(optimizer, schedule(policy))
        curve = momentum_curve(policy, [0.9, 0.8], np.arange(40), TIMELINE)
        for step in range(40):
            scheduler.apply(step)
            for group, expected in zip(optimizer.param_groups, curve[:, step]):
                value = group[key] if key == "momentum" else group["betas"][0]
                assert value == expected
        assert [g.get("betas", (0, None))[1] for g in optimizer.param_groups] in ([0.999, 0.95], [None, None])
        assert all(isinstance(g["betas"], tuple) for g in optimizer.param_groups if "betas" in g)


def test_an_optimizer_without_momentum_or_betas_is_one_config_error():
    optimizer = torch.optim.Adagrad(params(1), lr=0.1)
    with pytest.raises(ConfigError) as err:
        Scheduler(optimizer, schedule(StepMomentum(step=2)))
    assert err.value.key == "momentum" and "neither" in err.value.message()
    Scheduler(optimizer, schedule(None)).apply(0)  # without a momentum policy nothing is asked of it


def test_onecycle_momentum_ignores_the_optimizer_momentum():
    """MMCV overwrites every group's momentum with max_momentum before the run."""
    for optimizer in (sgd((0.5, 0.1)), adam(((0.5, 0.9), (0.1, 0.9)))):
        Scheduler(optimizer, schedule(OneCycleMomentum(max_momentum=[0.95, 0.9]))).apply(0)
        assert [g.get("momentum", g.get("betas", (None,))[0]) for g in optimizer.param_groups] == [0.95, 0.9]


def test_onecycle_momentum_lists_need_one_value_per_group():
    with pytest.raises(ConfigError) as err:
        Scheduler(sgd(), schedule(OneCycleMomentum(base_momentum=[0.8, 0.85, 0.9])))
    assert err.value.key == "momentum.base_momentum"


def test_warmup_that_pushes_momentum_above_one_warns(capsys):
    Scheduler(sgd((0.95, 0.5)), schedule(StepMomentum(step=100, warmup="constant", warmup_iters=3, warmup_ratio=0.9)))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("optkit: warning: momentum.warmup_ratio:") and "1.056" in lines[0]
    Scheduler(sgd((0.8, 0.5)), schedule(StepMomentum(step=100, warmup="constant", warmup_iters=3, warmup_ratio=0.9)))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs,key", [
    (dict(warmup="cosine", warmup_iters=3), "warmup"),
    (dict(warmup="linear", warmup_iters=0), "warmup_iters"),
    (dict(warmup="linear", warmup_iters=3, warmup_ratio=1.5), "warmup_ratio"),
    (dict(step=[2, 2]), "step"),
])
def test_momentum_warmup_and_step_checks(kwargs, key):
    with pytest.raises(ConfigError) as err:
        StepMomentum(**kwargs)
    assert err.value.key == key


def test_momentum_warmup_by_epoch_does_not_exist_as_in_mmcv():
    with pytest.raises(Exception) as err:
        compose_config(["momentum=cosine", "momentum.warmup_by_epoch=true"])
    assert "warmup_by_epoch" in str(err.value)


def check_tensorboard(tmp_path, overrides):
    """loop.log_train logs each group's lr and momentum (beta1 for Adam) every log_every
    steps; the value logged at step s is what optimizer step s − 1 used."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from optkit.plot_lr import curves
    from optkit.train import run

    cfg = compose_config([*overrides, "paramwise.bias_lr_mult=2", "trainer.max_iters=12", "logging.log_every=1",
                          "logging.progress=false", "trainer.device=cpu"])
    run(cfg, run_dir=tmp_path)
    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    expected = curves(cfg)
    assert len(expected["groups"]) == 2
    for group in expected["groups"]:
        for kind in ("lr", "momentum"):
            logged = {e.step: e.value for e in events.Scalars(f"train/{kind}/{group['name']}")}
            assert sorted(logged) == list(range(1, 13))
            np.testing.assert_allclose([logged[s] for s in range(1, 13)], group[kind][:12], rtol=1e-6)


@pytest.mark.parametrize("overrides", [
    ["optimizer=sgd", "optimizer.momentum=0.9", "momentum=cyclic", "schedule=cyclic"],
    ["optimizer=adamw", "momentum=onecycle", "schedule=onecycle"],
])
def test_tensorboard_gets_lr_and_momentum_of_every_named_group(tmp_path, overrides):
    check_tensorboard(tmp_path, overrides)


OTHER_OPTIONS = [[f"schedule={name}", "schedule.by_epoch=false"] if name in ("exp", "inv") else [f"schedule={name}"]
                 for name in sorted(LR_POLICIES) if name not in ("cyclic", "onecycle")]
OTHER_OPTIONS += [[f"momentum={name}", "momentum.by_epoch=false"] if name in ("step", "cosine", "linear")
                  else [f"momentum={name}"] for name in sorted(MOMENTUM_POLICIES)]


@pytest.mark.slow
@pytest.mark.parametrize("overrides", OTHER_OPTIONS, ids=lambda o: o[0])
def test_tensorboard_for_every_other_option(tmp_path, overrides):
    check_tensorboard(tmp_path, ["optimizer=sgd", "optimizer.momentum=0.9", "warmup=linear", "warmup.iters=4",
                                 *overrides])
