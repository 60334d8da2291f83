"""optkit's merged param groups give every parameter the (lr, weight_decay) that MMCV 1.7.2's
DefaultOptimizerConstructor gives it (tests/fixtures/mmcv_paramwise.json, written by
scripts/mmcv_reference/paramwise.py on the models of tests/custom_models/layer_kinds.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from optkit.errors import ConfigError
from optkit.optim import build_param_groups
from tests.custom_models.layer_kinds import DCN_TYPES, MODELS

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mmcv_paramwise.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}


def optkit_optimizer(case):
    """The case's model and the torch optimizer over optkit's groups (torch fills defaults)."""
    model = MODELS[case["model"]]()
    kwargs = dict(case["optimizer"])
    cls = getattr(torch.optim, kwargs.pop("type"))
    paramwise = dict(case["paramwise"])
    if case["dcn"]:
        paramwise["dcn_types"] = [f"{c.__module__}.{c.__qualname__}" for c in DCN_TYPES]
    groups = build_param_groups(model, lr=kwargs["lr"], weight_decay=kwargs.get("weight_decay"), paramwise=paramwise)
    return model, cls(groups, **kwargs)


def test_fixture_comes_from_mmcv_1_7_2():
    assert FIXTURE["mmcv"] == "1.7.2" and len(CASES) >= 25


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if "error" not in c])
def test_every_parameter_gets_mmcvs_lr_and_weight_decay(name, capsys):
    case = CASES[name]
    model, optimizer = optkit_optimizer(case)
    first_name = {}
    for param_name, param in model.named_parameters(remove_duplicate=False):
        first_name.setdefault(id(param), param_name)
    got = {first_name[id(p)]: (group["lr"], group["weight_decay"]) for group in optimizer.param_groups
           for p in group["params"]}
    want = {param_name: (lr, wd) for param_name, lr, wd in case["params"]}
    assert set(got) == set(want)
    order = {param_name: i for i, param_name in enumerate(want)}  # MMCV's traversal order
    positions = [[order[first_name[id(p)]] for p in group["params"]] for group in optimizer.param_groups]
    assert all(pos == sorted(pos) for pos in positions), "parameters keep MMCV's order inside a group"
    assert [pos[0] for pos in positions] == sorted(pos[0] for pos in positions), "groups in order of first appearance"
    for param_name, (lr, wd) in want.items():
        assert got[param_name] == pytest.approx((lr, wd), rel=1e-12, abs=0), param_name
    distinct = {(round(lr, 15), round(wd, 15)) for lr, wd in want.values()}
    assert len(optimizer.param_groups) == len(distinct)
    if case["warnings"]:  # bypass_duplicate: MMCV warns per skipped module, optkit in one line
        assert "lm_head.weight" in capsys.readouterr().err


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if "error" in c])
def test_what_mmcv_refuses_is_a_config_error(name):
    with pytest.raises(ConfigError) as err:
        optkit_optimizer(CASES[name])
    key = {"ValueError: SGD: some parameters appear in more than one parameter group": "paramwise.bypass_duplicate"}
    assert err.value.key.startswith(key.get(CASES[name]["error"], "paramwise."))
