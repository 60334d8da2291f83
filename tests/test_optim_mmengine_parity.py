"""paramwise with `rule_order: mmengine` equals MMEngine 0.10.7's DefaultOptimWrapperConstructor,
per parameter (tests/fixtures/mmengine_paramwise.json, scripts/mmengine_reference/paramwise.py),
and the MMCV order stays MMCV's on the same configs where the two differ."""
from __future__ import annotations

import json
import math

import pytest

from optkit.optim import build_param_groups
from tests.conftest import REPO
from tests.custom_models.layer_kinds import MODELS

REFERENCE = json.loads((REPO / "tests" / "fixtures" / "mmengine_paramwise.json").read_text())


def per_param(model, groups):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"{c['name']}-{c['model']}")
def test_mmengine_order_equals_mmengine(case):
    model = MODELS[case["model"]]()
    groups = build_param_groups(model, lr=REFERENCE["lr"], weight_decay=REFERENCE["weight_decay"],
                                paramwise={**case["paramwise"], "rule_order": "mmengine"})
    got = per_param(model, groups)
    assert set(got) == set(case["params"])
    for name, (lr, wd) in case["params"].items():
        assert math.isclose(got[name][0], lr, rel_tol=1e-12) and math.isclose(got[name][1], wd, rel_tol=1e-12,
                                                                               abs_tol=0), name


def test_the_orders_differ_where_mmengine_skips_unset_rules():
    """bias_decay_mult alone: MMEngine gives it to norm and depthwise-conv biases, MMCV does not."""
    model = MODELS["layer_kinds"]()
    paramwise = {"bias_decay_mult": 0.0}
    mmcv = per_param(model, build_param_groups(model, lr=0.1, weight_decay=1e-4, paramwise=paramwise))
    mmengine = per_param(model, build_param_groups(model, lr=0.1, weight_decay=1e-4,
                                                   paramwise={**paramwise, "rule_order": "mmengine"}))
    assert {n for n in mmcv if mmcv[n] != mmengine[n]} == {"stem.1.bias", "dw.bias", "mono.bias", "gn.bias", "ln.bias",
                                                          "inorm.bias", "bn1d.bias", "backbone.dw.bias",
                                                          "backbone.norm.bias"}
