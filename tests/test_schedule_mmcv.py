"""optkit's curves equal MMCV 1.7.2's, whole curve by whole curve, and MMCV's refusals are
optkit's one-line ConfigErrors.

The reference is tests/fixtures/mmcv_schedules.json, made by real MMCV hooks with
scripts/mmcv_reference/schedules.py (each case holds the MMCV config and the optkit
overrides that translate it). Every case runs through the real config path: Hydra compose
→ build_schedule → Scheduler.apply on a torch optimizer, whose groups are then read.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from optkit.errors import ConfigError
from optkit.schedule import Scheduler, Timeline
from optkit.schedule.build import build_schedule
from optkit.validate import check
from tests.conftest import compose_config

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mmcv_schedules.json").read_text())
CASES = FIXTURE["cases"]
ERRORS = FIXTURE["errors"]


def make_optimizer(kind: str, groups: list[dict]) -> torch.optim.Optimizer:
    params = []
    for group in groups:
        group = dict(group, params=[torch.nn.Parameter(torch.zeros(1))])
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
        params.append(group)
    return torch.optim.SGD(params, lr=0.1) if kind == "sgd" else torch.optim.Adam(params)


def momentum_of(group: dict) -> float:
    return group["momentum"] if "momentum" in group else group["betas"][0]


def timeline_of(case: dict) -> Timeline:
    return Timeline(case["iters_per_epoch"], case["epochs"] * case["iters_per_epoch"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_scheduler_writes_mmcv_curves(case):
    timeline = timeline_of(case)
    schedule = build_schedule(compose_config(case["optkit"]), timeline)
    optimizer = make_optimizer(case["optimizer"], case["groups"])
    scheduler = Scheduler(optimizer, schedule)
    steps = case["iters"] or list(range(timeline.max_iters))
    lr, momentum = [], []
    for step in steps:
        scheduler.apply(step)
        lr.append([group["lr"] for group in optimizer.param_groups])
        momentum.append([momentum_of(group) for group in optimizer.param_groups])
    np.testing.assert_allclose(np.array(lr).T, case["lr"], rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(np.array(momentum).T, case["momentum"], rtol=1e-12, atol=1e-20)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_whole_curve_in_one_pass_matches_mmcv(case):
    """The vectorised curve (what plot_lr shows) is the same as step-by-step application."""
    timeline = timeline_of(case)
    schedule = build_schedule(compose_config(case["optkit"]), timeline)
    groups = make_optimizer(case["optimizer"], case["groups"]).param_groups
    steps = np.asarray(case["iters"] or range(timeline.max_iters))
    np.testing.assert_allclose(schedule.lr([g["lr"] for g in groups], steps), case["lr"], rtol=1e-12, atol=1e-20)
    if schedule.momentum_policy is not None:
        np.testing.assert_allclose(schedule.momentum(groups, steps), case["momentum"], rtol=1e-12, atol=1e-20)


def test_fixture_covers_the_contract():
    names = {c["name"] for c in CASES}
    policies = {c["lr_config"]["policy"] for c in CASES}
    assert {"fixed", "step", "exp", "poly", "inv", "CosineAnnealing", "FlatCosineAnnealing", "CosineRestart",
            "cyclic", "OneCycle", "LinearAnnealing"} <= policies
    assert {c["momentum_config"]["policy"] for c in CASES if c["momentum_config"]} == {
        "step", "CosineAnnealing", "LinearAnnealing", "cyclic", "OneCycle"}
    assert {c["lr_config"].get("warmup") for c in CASES} == {None, "constant", "linear", "exp"}
    assert any(c["lr_config"].get("warmup_by_epoch") for c in CASES)
    assert {"tutorial_step_100_150", "tutorial_cosine_ratio", "tutorial_poly", "tutorial_warmup_linear_iter",
            "tutorial_warmup_exp_by_epoch", "tutorial_cyclic_pair"} <= names


def test_tutorial_cyclic_pair_is_verbatim():
    pair = next(c for c in CASES if c["name"] == "tutorial_cyclic_pair")
    assert pair["lr_config"] == {"policy": "cyclic", "target_ratio": [10, 1e-4], "cyclic_times": 1,
                                 "step_ratio_up": 0.4}
    assert pair["momentum_config"] == {"policy": "cyclic", "target_ratio": [0.85 / 0.95, 1], "cyclic_times": 1,
                                       "step_ratio_up": 0.4}


@pytest.mark.parametrize("case", ERRORS, ids=[e["name"] for e in ERRORS])
def test_what_mmcv_refuses_is_a_config_error(case):
    assert case["mmcv_error"]
    cfg = compose_config([*case["optkit"], f"trainer.max_epochs={case['epochs']}"])
    optimizer = make_optimizer("sgd", [{"lr": 0.1, "momentum": 0.9}] * 3)
    with pytest.raises(ConfigError) as err:
        check(cfg, iters_per_epoch=case["iters_per_epoch"])
        Scheduler(optimizer, build_schedule(cfg, timeline_of(case)))
    assert err.value.key == case["key"], err.value.message()


def test_a_warmup_longer_than_the_run_warns_once(capsys):
    case = next(c for c in CASES if c["name"] == "warmup_longer_than_run")
    build_schedule(compose_config(case["optkit"]), timeline_of(case))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("optkit: warning: warmup.iters:")
