"""Per-parameter (lr, weight_decay) from MMCV 1.7.2's DefaultOptimizerConstructor.

Runs in a throw-away virtualenv holding mmcv==1.7.2 (see ../shared/MMCV_SEMANTICS.md), never
in optkit's own environment, and writes the JSON that tests/test_optim_mmcv_parity.py
compares optkit's merged groups with:

    /tmp/mmcv-venv/bin/python scripts/mmcv_reference/paramwise.py -o tests/fixtures/mmcv_paramwise.json

Each case is a model from tests/custom_models/layer_kinds.py (plain torch, so both
environments build the same parameter names), an optimizer config and a paramwise_cfg.
MMCV builds one param group per parameter; the effective values are read back from the
optimizer (torch fills in the class defaults: a frozen parameter's group has no lr/wd
keys, AdamW without weight_decay gets 0.01). A case MMCV rejects records the exception.

`dcn: true` makes the DeformConv-like modules real DCNs for MMCV: mmcv without compiled ops
never treats anything as deformable, so the script swaps in a stand-in `mmcv.ops` whose
DeformConv2d / ModulatedDeformConv2d are the test's classes and reports ops as present.
optkit gets the same classes through `paramwise.dcn_types`.
"""
from __future__ import annotations

import argparse
import json
import sys
import types
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "src")]

import mmcv  # noqa: E402
import torch  # noqa: E402
from mmcv.runner import build_optimizer  # noqa: E402
from mmcv.runner.optimizer import default_constructor  # noqa: E402

from tests.custom_models import layer_kinds  # noqa: E402

SGD = {"type": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}
SGD_NO_WD = {"type": "SGD", "lr": 0.1, "momentum": 0.9}
TUTORIAL = {"type": "SGD", "lr": 0.8, "weight_decay": 1e-4}  # the tutorial's optimizer
ADAMW_NO_WD = {"type": "AdamW", "lr": 1e-3}
ALL_OPTIONS = {"bias_lr_mult": 2.0, "bias_decay_mult": 0.5, "norm_decay_mult": 0.0, "dwconv_decay_mult": 0.3,
               "dcn_offset_lr_mult": 0.1}
CUSTOM_KEYS = {
    "backbone": {"lr_mult": 0.1, "decay_mult": 0.9},  # beats 'dw' for backbone.dw.* (longer)
    "dw": {"decay_mult": 0.0},
    "head": {"lr_mult": 10.0},  # substring: lm_head.* too
    "conv": {"lr_mult": 0.5},  # mask_conv.*, dcn.conv_offset.*, conv.*
    "mask": {"lr_mult": 3.0},  # same length as 'conv': alphabetical, so 'conv' wins on mask_conv
    ".logit_scale": {"decay_mult": 0.0},  # a root-level parameter: '.logit_scale'
    "stem.1": {"lr_mult": 0.25, "decay_mult": 2.0},
}

# (name, model, optimizer cfg, paramwise_cfg, dcn)
CASES = [
    ("none", "layer_kinds", SGD, {}, False),
    ("bias_lr_mult", "layer_kinds", SGD, {"bias_lr_mult": 2.0}, False),
    ("bias_decay_mult", "layer_kinds", SGD, {"bias_decay_mult": 0.5}, False),
    ("norm_decay_mult", "layer_kinds", SGD, {"norm_decay_mult": 0.0}, False),
    ("dwconv_decay_mult", "layer_kinds", SGD, {"dwconv_decay_mult": 0.3}, False),
    ("dcn_offset_lr_mult_without_dcn", "layer_kinds", SGD, {"dcn_offset_lr_mult": 0.1}, False),
    ("dcn_offset_lr_mult", "layer_kinds", SGD, {"dcn_offset_lr_mult": 0.1}, True),
    ("all_options", "layer_kinds", SGD, ALL_OPTIONS, False),
    ("all_options_dcn", "layer_kinds", SGD, ALL_OPTIONS, True),
    ("custom_keys", "layer_kinds", SGD, {"custom_keys": CUSTOM_KEYS}, False),
    ("custom_keys_and_options", "layer_kinds", SGD, {**ALL_OPTIONS, "custom_keys": CUSTOM_KEYS}, True),
    ("lr_options_without_wd", "layer_kinds", SGD_NO_WD,
     {"bias_lr_mult": 2.0, "dcn_offset_lr_mult": 0.1, "custom_keys": {"head": {"lr_mult": 10.0}}}, True),
    ("norm_decay_without_wd", "layer_kinds", SGD_NO_WD, {"norm_decay_mult": 0.0}, False),
    ("custom_decay_without_wd", "layer_kinds", SGD_NO_WD, {"custom_keys": {"head": {"decay_mult": 0.0}}}, False),
    ("adamw_default_wd", "layer_kinds", ADAMW_NO_WD, {"bias_lr_mult": 2.0, "custom_keys": {"head": {"lr_mult": 10.0}}},
     False),
    ("adamw_default_wd_plain", "layer_kinds", ADAMW_NO_WD, {}, False),
    ("frozen", "layer_kinds_frozen", SGD, {**ALL_OPTIONS, "custom_keys": {"head": {"lr_mult": 10.0}, "stem": {
        "decay_mult": 0.0}}}, True),
    ("frozen_plain", "layer_kinds_frozen", SGD, {}, False),
    ("tied_plain", "tied", SGD, {}, False),
    ("tied_without_bypass", "tied", SGD, {"norm_decay_mult": 0.0}, False),
    ("tied_bypass", "tied", SGD, {"bypass_duplicate": True, "custom_keys": {"lm_head": {"lr_mult": 0.5}}}, False),
    ("tutorial_norm_decay", "vit", TUTORIAL, {"norm_decay_mult": 0.0}, False),
    ("tutorial_vit_tokens", "vit", TUTORIAL,
     {"custom_keys": {"backbone.cls_token": {"decay_mult": 0.0}, "backbone.pos_embed": {"decay_mult": 0.0}}}, False),
    ("tutorial_backbone_lr", "vit", TUTORIAL, {"custom_keys": {"backbone": {"lr_mult": 0.1, "decay_mult": 0.9}}}, False),
    ("no_decay_bias_norm_vit", "vit", {"type": "AdamW", "lr": 1e-3, "weight_decay": 0.05},
     {"bias_decay_mult": 0.0, "norm_decay_mult": 0.0}, False),
    ("no_decay_bias_norm_cnn", "cnn", SGD, {"bias_decay_mult": 0.0, "norm_decay_mult": 0.0}, False),
    ("all_options_cnn", "cnn", SGD, {**ALL_OPTIONS, "custom_keys": {"head": {"lr_mult": 10.0}}}, False),
]


def use_dcn(enabled: bool) -> None:
    """Make the test's DeformConv-like classes mmcv.ops' DCN types (or nothing a DCN)."""
    if enabled:
        ops = types.ModuleType("mmcv.ops")
        ops.DeformConv2d, ops.ModulatedDeformConv2d = layer_kinds.DeformConvLike, layer_kinds.ModulatedDeformConvLike
        sys.modules["mmcv.ops"] = ops
        default_constructor.check_ops_exist = lambda: True
    else:
        sys.modules.pop("mmcv.ops", None)
        default_constructor.check_ops_exist = lambda: False


def run_case(model_name: str, optimizer: dict, paramwise: dict, dcn: bool) -> dict:
    use_dcn(dcn)
    model = layer_kinds.MODELS[model_name]()
    first_name: dict[int, str] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        first_name.setdefault(id(param), name)
    cfg = dict(optimizer, paramwise_cfg=paramwise) if paramwise else dict(optimizer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            opt = build_optimizer(model, cfg)
        except Exception as err:  # the case documents MMCV's error
            return {"error": f"{type(err).__name__}: {err}"}
    params = [[first_name[id(p)], group["lr"], group["weight_decay"]]
              for group in opt.param_groups for p in group["params"]]
    duplicates = [str(w.message) for w in caught if "duplicate" in str(w.message)]
    return {"n_groups": len(opt.param_groups), "params": params, "warnings": duplicates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "tests/fixtures/mmcv_paramwise.json")
    args = parser.parse_args()
    cases = []
    for name, model, optimizer, paramwise, dcn in CASES:
        result = run_case(model, optimizer, paramwise, dcn)
        cases.append({"name": name, "model": model, "optimizer": optimizer, "paramwise": paramwise, "dcn": dcn,
                      **result})
    out = {"generator": "scripts/mmcv_reference/paramwise.py", "mmcv": mmcv.__version__, "torch": torch.__version__,
           "cases": cases}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(cases)} cases → {args.out}")


if __name__ == "__main__":
    main()
