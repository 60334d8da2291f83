"""Per-parameter (lr, weight_decay) from MMEngine 0.10.7's DefaultOptimWrapperConstructor.

Runs in the MMEngine virtualenv (scripts/mmengine_reference/schedules.py says how to make
it), never in optkit's own environment, and writes the JSON that
tests/test_optim_mmengine_parity.py compares optkit's groups (`paramwise.rule_order:
mmengine`) with:

    /tmp/mmengine-venv/bin/python scripts/mmengine_reference/paramwise.py -o tests/fixtures/mmengine_paramwise.json

Each case is a model from tests/custom_models/layer_kinds.py (plain torch), SGD(lr=0.1,
weight_decay=1e-4) and a paramwise_cfg with the rules MMEngine orders differently from MMCV
(bias before depthwise conv, a rule only where its multiplier is set) and its
`flat_decay_mult`. No DCN: without mmcv's compiled ops MMEngine treats nothing as deformable.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from mmengine.optim import DefaultOptimWrapperConstructor  # noqa: E402

from tests.custom_models.layer_kinds import MODELS  # noqa: E402

SWIN = {"norm_decay_mult": 0.0, "bias_decay_mult": 0.0, "flat_decay_mult": 0.0}
CASES = {  # name → (paramwise_cfg, models)
    "bias_only": ({"bias_decay_mult": 0.0}, ("layer_kinds", "vit", "cnn")),
    "flat_only": ({"flat_decay_mult": 0.5}, ("layer_kinds", "vit", "cnn")),
    "swin": (SWIN, ("layer_kinds", "cnn")),
    "swin_keys": ({**SWIN, "custom_keys": {".cls_token": {"decay_mult": 0.0}, "head": {"lr_mult": 0.1}}}, ("vit",)),
    "every_decay_rule": ({"bias_lr_mult": 2.0, "bias_decay_mult": 0.5, "norm_decay_mult": 0.0,
                          "dwconv_decay_mult": 0.3, "flat_decay_mult": 0.2}, ("layer_kinds", "vit", "cnn")),
}


def per_param(model_name: str, paramwise: dict) -> dict:
    model = MODELS[model_name]()
    constructor = DefaultOptimWrapperConstructor(
        dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1, weight_decay=1e-4)), dict(paramwise))
    optimizer = constructor(model).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: [g["lr"], g["weight_decay"]] for g in optimizer.param_groups for p in g["params"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    out = {"lr": 0.1, "weight_decay": 1e-4, "cases": [
        {"model": model, "paramwise": paramwise, "name": name, "params": per_param(model, paramwise)}
        for name, (paramwise, models) in CASES.items() for model in models]}
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
