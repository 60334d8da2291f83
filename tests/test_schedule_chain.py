"""Chained MMEngine schedules equal MMEngine 0.10.7 on every fixture, every step, every group.

The reference is tests/fixtures/mmengine_schedules.json (scripts/mmengine_reference/schedules.py:
MMEngine's own schedulers stepped by its own ParamSchedulerHook), two param groups: the base
and one with lr × 0.1 and weight decay × 0.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optkit.errors import ConfigError
from optkit.schedule.chain import chain_tables, resolve
from optkit.schedule.timeline import Timeline

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "mmengine_schedules.json").read_text())
FIXTURES = {name: entry for name, entry in REFERENCE["fixtures"].items() if "curves" in entry}


def expand(rle: list) -> np.ndarray:
    return np.concatenate([np.full(count, np.nan if value is None else value) for value, count in rle])


def bases(optimizer: dict) -> dict[str, list[float]]:
    lr, wd = optimizer["lr"], optimizer.get("weight_decay", 0.0)
    momentum = optimizer["betas"][0] if "betas" in optimizer else optimizer.get("momentum", 0.0)
    if optimizer["type"] in ("AdamW", "Adam") and "betas" not in optimizer:
        momentum = 0.9  # torch's default betas
    return {"lr": [lr, lr * REFERENCE["group_lr_mult"]], "momentum": [momentum, momentum],
            "weight_decay": [wd, wd * REFERENCE["group_decay_mult"]]}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_chain_equals_mmengine(name: str) -> None:
    entry = FIXTURES[name]
    curves = entry["curves"]
    specs = entry["config"]["param_scheduler"]
    specs = [specs] if isinstance(specs, dict) else specs
    start = bases(entry["config"]["optim_wrapper"]["optimizer"])
    tables = chain_tables(specs, start, Timeline(curves["iters_per_epoch"], curves["max_iters"]))
    for g, group in enumerate(curves["groups"]):
        for key, rle in group.items():
            expected = expand(rle)
            got = tables[key][g] if key in tables else np.full(curves["max_iters"], start[key][g])
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0, err_msg=f"{key}, group {g}")


TIMELINE = Timeline(iters_per_epoch=10, max_iters=100)


@pytest.mark.parametrize("spec, key, problem", [
    ({"type": "CosineLR"}, "type", "is not an MMEngine parameter scheduler"),
    ({"type": "StepLR"}, "step_size", "is required by Step"),
    ({"type": "LinearLR", "start_factor": 2.0}, "start_factor", "between 0 and 1"),
    ({"type": "LinearParamScheduler"}, "param_name", "is required"),
    ({"type": "OneCycleParamScheduler", "param_name": "momentum"}, "param_name", "only schedules lr"),
    ({"type": "ConstantLR", "by_epoch": False, "convert_to_iter_based": True}, "convert_to_iter_based", "by_epoch"),
    ({"type": "ConstantLR", "begin": 5, "end": 5}, "end", "larger than begin"),
    ({"type": "ConstantLR", "gamma": 0.1}, "gamma", "not an argument of ConstantLR"),
    ({"type": "CosineAnnealingLR", "eta_min": 0.1, "eta_min_ratio": 0.1}, "eta_min", "not both"),
])
def test_bad_scheduler_is_one_config_error(spec: dict, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(spec, TIMELINE)
    assert err.value.key == key and problem in err.value.problem


@pytest.mark.parametrize("spec, expected", [
    # the runner's default end, then build_iter_from_epoch: begin, end and T_max × epoch length
    ({"type": "CosineAnnealingLR", "begin": 2, "convert_to_iter_based": True}, (20, 100, None, False)),
    ({"type": "CosineAnnealingLR", "T_max": 3, "convert_to_iter_based": True}, (0, 100, 30, False)),
    ({"type": "LinearLR", "by_epoch": False}, (0, 100, None, False)),
    ({"type": "LinearLR"}, (0, 10, None, True)),
])
def test_runner_defaults_and_conversion(spec: dict, expected: tuple) -> None:
    phase = resolve(spec, TIMELINE).phase
    assert (phase.begin, phase.end, getattr(phase, "T_max", None), phase.by_epoch) == expected


@pytest.mark.parametrize("overrides, key", [
    (["momentum=cosine", "optimizer=sgd", "optimizer.momentum=0.9",
      "schedule.param_scheduler=[{type:StepMomentum,step_size:2}]"], "momentum"),
    (["schedule.param_scheduler=[{type:StepLR}]"], "schedule.param_scheduler.0.step_size"),
])
def test_chain_beside_other_groups_is_one_config_error(overrides, key):
    from optkit.schedule.build import build_schedule
    from tests.conftest import compose_config

    cfg = compose_config(["schedule=chain", *overrides])
    with pytest.raises(ConfigError) as err:
        build_schedule(cfg, TIMELINE)
    assert err.value.key == key


def test_an_mmcv_warmup_multiplies_the_chains_lr():
    from optkit.schedule.build import build_schedule
    from tests.conftest import compose_config

    chain = ["schedule=chain", "schedule.param_scheduler=[{type:ExponentialLR,gamma:0.9,by_epoch:false}]"]
    plain = build_schedule(compose_config(chain), TIMELINE).lr([0.1], np.arange(100))
    warmed = build_schedule(compose_config([*chain, "warmup=linear", "warmup.iters=5", "warmup.ratio=0.1"]),
                            TIMELINE).lr([0.1], np.arange(100))
    factor = 1 - (1 - np.arange(5) / 5) * (1 - 0.1)  # MMCV's linear warmup
    np.testing.assert_array_equal(warmed[:, 5:], plain[:, 5:])
    np.testing.assert_allclose(warmed[0, :5], plain[0, :5] * factor, rtol=1e-15)


def test_scheduler_writes_the_chain_into_the_groups():
    """Training's Scheduler writes lr, weight decay and Adam's beta1 from the chain's tables."""
    import torch

    from optkit.schedule import Chain, Schedule, Scheduler, Warmup

    specs = [{"type": "LinearLR", "start_factor": 0.1, "end": 2, "convert_to_iter_based": True},
             {"type": "CosineAnnealingLR", "eta_min": 1e-4, "begin": 2},
             {"type": "CosineAnnealingParamScheduler", "param_name": "weight_decay", "eta_min": 1e-3},
             {"type": "LinearMomentum", "start_factor": 0.9, "by_epoch": False, "end": 30}]
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.AdamW([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.01, "weight_decay": 0.0,
                                                              "lr_mult": 0.1, "decay_mult": 0.0}],
                                  lr=0.1, weight_decay=0.05, betas=(0.9, 0.999))
    optimizer.param_groups[0].update(lr_mult=1.0, decay_mult=1.0)
    chain = Chain(param_scheduler=specs)
    scheduler = Scheduler(optimizer, Schedule(None, Warmup(), TIMELINE, extra=chain.curves(TIMELINE)))
    bases = scheduler.bases  # optimizer.defaults × the group's multiplier (optkit.schedule.keys)
    assert bases == {"lr": [0.1, 0.1 * 0.1], "weight_decay": [0.05, 0.0], "momentum": [0.9, 0.9]}
    tables = {key: chain_tables([s for s in specs if resolve(s, TIMELINE).key == key], {key: bases[key]}, TIMELINE)[key]
              for key in bases}
    for step in (0, 7, 19, 20, 55, 99):
        scheduler.apply(step)
        for g, group in enumerate(optimizer.param_groups):
            assert group["lr"] == tables["lr"][g, step] and group["weight_decay"] == tables["weight_decay"][g, step]
            assert group["betas"] == (tables["momentum"][g, step], 0.999)
    assert optimizer.param_groups[1]["weight_decay"] > 0  # MMEngine's absolute eta_min reaches the no-decay group
