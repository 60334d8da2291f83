"""Paramwise rules with values worked out by hand, merged groups, names, and the errors optkit
adds where MMCV stays silent. (tests/test_optim_mmcv_parity.py checks the same rules
against MMCV itself.)"""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from optkit.errors import ConfigError
from optkit.optim import DCN_TYPES, build_param_groups, describe_param_groups
from optkit.train import run
from tests.conftest import compose_config
from tests.custom_models.layer_kinds import DeformConvLike, LayerKinds, Tied, cnn, vit

LR, WD = 0.1, 1e-4


def per_param(model, groups):
    """{name: (lr, weight_decay, group name)} for every parameter in `groups`."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (g["lr"], g.get("weight_decay"), g["name"]) for g in groups for p in g["params"]}


def assert_mults(got, expected):
    """`expected`: {name: (lr_mult, decay_mult, group name)} against base LR, WD."""
    assert set(got) == set(expected)
    for name, (lr_mult, decay_mult, group) in expected.items():
        lr, wd, got_group = got[name]
        assert math.isclose(lr, LR * lr_mult) and math.isclose(wd, WD * decay_mult, abs_tol=0), name
        assert got_group == group, name


def groups_for(model, paramwise, lr=LR, weight_decay=WD):
    return build_param_groups(model, lr=lr, weight_decay=weight_decay, paramwise=paramwise)


# Every option at once on a model with every layer kind; only DeformConvLike is a DCN
# (mdcn is the same shape but not registered, so it is an ordinary module).
ALL_OPTIONS = {"bias_lr_mult": 2.0, "bias_decay_mult": 0.5, "norm_decay_mult": 0.0, "dwconv_decay_mult": 0.3,
               "dcn_offset_lr_mult": 0.1, "dcn_types": ["tests.custom_models.layer_kinds.DeformConvLike"]}
NORM, BIAS, DW, DW_BIAS, OFFSET, PLAIN = (1, 0, "norm"), (2, .5, "bias"), (1, .3, "dwconv"), (2, .3, "bias+dwconv"), (
    .1, 1, "dcn_offset"), (1, 1, "default")
ALL_OPTIONS_EXPECTED = {
    "logit_scale": PLAIN, "stem.0.weight": PLAIN, "stem.1.weight": NORM, "stem.1.bias": NORM,
    "conv.weight": PLAIN, "conv.bias": BIAS,
    "dw.weight": DW, "dw.bias": DW_BIAS,
    "mono.weight": DW, "mono.bias": DW_BIAS,  # Conv2d(1, 4, 3): in_channels == groups == 1
    "dw1d.weight": PLAIN, "dw1d.bias": BIAS,  # a depthwise Conv1d is not "depthwise"
    **{f"{m}.{p}": NORM for m in ("gn", "ln", "inorm", "bn1d") for p in ("weight", "bias")},
    "dcn.weight": PLAIN, "dcn.bias": BIAS,  # the DCN's own parameters are ordinary
    "dcn.conv_offset.weight": OFFSET, "dcn.conv_offset.bias": OFFSET,  # no bias rules inside a DCN
    "mdcn.weight": PLAIN, "mdcn.bias": BIAS, "mdcn.conv_offset.weight": PLAIN, "mdcn.conv_offset.bias": BIAS,
    "mask_conv.weight": PLAIN, "mask_conv.bias": BIAS,
    "backbone.dw.weight": DW, "backbone.dw.bias": DW_BIAS, "backbone.norm.weight": NORM, "backbone.norm.bias": NORM,
    "backbone.fc.weight": PLAIN, "backbone.fc.bias": BIAS,
    "head.weight": PLAIN, "head.bias": BIAS, "lm_head.weight": PLAIN, "lm_head.bias": BIAS,
}


def test_every_option_by_hand():
    model = LayerKinds()
    groups = groups_for(model, ALL_OPTIONS)
    assert_mults(per_param(model, groups), ALL_OPTIONS_EXPECTED)
    assert [g["name"] for g in groups] == ["default", "norm", "bias", "dwconv", "bias+dwconv", "dcn_offset"]


def test_dcn_types_registry_from_code(monkeypatch):
    monkeypatch.setattr("optkit.optim.groups.DCN_TYPES", [DeformConvLike])
    options = {k: v for k, v in ALL_OPTIONS.items() if k != "dcn_types"}
    model = LayerKinds()
    assert_mults(per_param(model, groups_for(model, options)), ALL_OPTIONS_EXPECTED)
    assert DCN_TYPES == []  # the module's registry itself is untouched by the test


CUSTOM_KEYS = {"backbone": {"lr_mult": 0.1, "decay_mult": 0.9}, "dw": {"decay_mult": 0.0}, "head": {"lr_mult": 10.0},
               "conv": {"lr_mult": 0.5}, "mask": {"lr_mult": 3.0}, ".logit_scale": {"decay_mult": 0.0}}


# The last column is the merged group's name: (1, 0) is given by three rules at once.
@pytest.mark.parametrize("name,lr_mult,decay_mult,group", [
    ("logit_scale", 1, 0, ".logit_scale+dw+norm"),  # a root parameter's MMCV name is ".logit_scale"
    ("backbone.dw.weight", .1, .9, "backbone"),  # longer key first: 'backbone' beats 'dw'
    ("backbone.norm.bias", .1, .9, "backbone"),  # a custom key overrides norm_decay_mult
    ("dw.bias", 1, 0, ".logit_scale+dw+norm"),  # ... and bias_lr_mult
    ("dw1d.weight", 1, 0, ".logit_scale+dw+norm"),  # substring of 'dw1d'
    ("mask_conv.weight", .5, 1, "conv"),  # 'conv' and 'mask' tie on length: alphabetical
    ("dcn.conv_offset.bias", .5, 1, "conv"),
    ("lm_head.bias", 10, 1, "head"),  # 'head' is a substring of 'lm_head'
    ("gn.weight", 1, 0, ".logit_scale+dw+norm"),  # no key: the rules apply
    ("stem.0.weight", 1, 1, "default"),
    ("head.weight", 10, 1, "head"),
])
def test_custom_keys_precedence_by_hand(name, lr_mult, decay_mult, group):
    model = LayerKinds()
    got = per_param(model, groups_for(model, {"custom_keys": CUSTOM_KEYS, "norm_decay_mult": 0.0, "bias_lr_mult": 2.0}))
    lr, wd, got_group = got[name]
    assert math.isclose(lr, LR * lr_mult) and math.isclose(wd, WD * decay_mult) and got_group == group


@pytest.mark.parametrize("option,expected", [
    # The tutorial's three examples, SGD(lr=0.8, weight_decay=1e-4), on the ViT's names.
    ("no_norm_decay", {"default": (0.8, 1e-4), "norm": (0.8, 0.0)}),
    ("vit_no_decay_tokens", {"backbone.cls_token+backbone.pos_embed": (0.8, 0.0), "default": (0.8, 1e-4)}),
    ("backbone_lr", {"backbone": (0.08, 9e-5), "default": (0.8, 1e-4)}),
    ("no_decay_bias_norm", {"default": (0.8, 1e-4), "bias+norm": (0.8, 0.0)}),
    ("none", {"default": (0.8, 1e-4)}),
])
def test_shipped_paramwise_options_on_vit(option, expected):
    cfg = compose_config([f"paramwise={option}"])
    model = vit()
    groups = groups_for(model, cfg.paramwise, lr=0.8, weight_decay=1e-4)
    assert [g["name"] for g in groups] == list(expected)
    for group in groups:
        assert (group["lr"], group["weight_decay"]) == pytest.approx(expected[group["name"]]), group["name"]
    got = per_param(model, groups)
    if option == "no_norm_decay":
        assert {n for n, v in got.items() if v[1] == 0} == {n for n in got if ".norm" in n}
    if option == "vit_no_decay_tokens":
        assert {n for n, v in got.items() if v[1] == 0} == {"backbone.cls_token", "backbone.pos_embed"}
    if option == "backbone_lr":
        assert {n for n, v in got.items() if v[0] == 0.8} == {"head.weight", "head.bias"}


def test_one_group_per_distinct_pair_in_first_appearance_order():
    model = cnn()
    entries = per_param(model, groups_for(model, {"bias_decay_mult": 0.0, "norm_decay_mult": 0.0,
                                                  "custom_keys": {"head": {"lr_mult": 10.0}}}))
    pairs = list(dict.fromkeys((lr, wd) for lr, wd, _ in entries.values()))
    groups = groups_for(model, {"bias_decay_mult": 0.0, "norm_decay_mult": 0.0, "custom_keys": {"head": {"lr_mult": 10.0}}})
    assert [(g["lr"], g["weight_decay"]) for g in groups] == pairs
    assert [g["name"] for g in groups] == ["default", "bias+norm", "head"]


def test_no_paramwise_is_model_parameters_in_one_group():
    model = Tied()
    model.norm.weight.requires_grad_(False)
    (group,) = groups_for(model, {"bypass_duplicate": False, "custom_keys": {}, "dcn_types": []})
    assert group["params"] == list(model.parameters()) and group["name"] == "default"
    assert (group["lr"], group["weight_decay"]) == (LR, WD)


def test_without_weight_decay_groups_leave_it_to_the_optimizer():
    """MMCV: a config without weight_decay writes none; AdamW's default 0.01 then holds in every group."""
    model = cnn()
    groups = groups_for(model, {"bias_lr_mult": 2.0}, weight_decay=None)
    assert all("weight_decay" not in g for g in groups)
    optimizer = torch.optim.AdamW(groups, lr=LR)
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.01}
    assert sorted(g["lr"] for g in optimizer.param_groups) == [LR, 2 * LR]


@pytest.mark.parametrize("paramwise,key", [
    ({"norm_decay_mult": 0.0}, "paramwise.norm_decay_mult"),
    ({"custom_keys": {"head": {"decay_mult": 0.5}}}, "paramwise.custom_keys.head.decay_mult"),
])
def test_decay_rules_need_a_base_weight_decay(paramwise, key):
    with pytest.raises(ConfigError) as err:
        groups_for(cnn(), paramwise, weight_decay=None)
    assert err.value.key == key


@pytest.mark.parametrize("paramwise,key", [
    ({"bias_lr_mult": -1.0}, "paramwise.bias_lr_mult"),
    ({"custom_keys": {"head": {"lr_multt": 2.0}}}, "paramwise.custom_keys.head"),
    ({"custom_keys": {"head": 2.0}}, "paramwise.custom_keys.head"),
    ({"dcn_types": ["torch.nn.Nope"]}, "paramwise.dcn_types.0"),
    ({"dcn_types": ["torch.optim.SGD"]}, "paramwise.dcn_types.0"),
])
def test_bad_paramwise_values(paramwise, key):
    with pytest.raises(ConfigError) as err:
        groups_for(cnn(), paramwise)
    assert err.value.key == key


def test_custom_key_that_matches_nothing_names_the_nearest():
    with pytest.raises(ConfigError) as err:
        groups_for(vit(), {"custom_keys": {"backbone.cls_tokn": {"decay_mult": 0.0}}})
    assert err.value.key == "paramwise.custom_keys.backbone.cls_tokn"
    assert "did you mean backbone.cls_token" in err.value.message()


def test_custom_key_that_never_applies_is_a_warning(capsys):
    model = LayerKinds()
    model.mask_conv.requires_grad_(False)
    groups_for(model, {"custom_keys": {"mask_conv": {"lr_mult": 2.0}, "mask": {"lr_mult": 3.0}}})
    err = capsys.readouterr().err  # 'mask_conv' matches frozen parameters only, 'mask' nothing it can take
    assert "paramwise.custom_keys.mask_conv: never applies" in err and "custom_keys.mask: never applies" in err


def test_tied_weights_need_bypass_duplicate():
    with pytest.raises(ConfigError) as err:
        groups_for(Tied(), {"norm_decay_mult": 0.0})
    assert err.value.key == "paramwise.bypass_duplicate"
    assert "lm_head.weight is the same tensor as embed.weight" in err.value.problem


def test_bypass_duplicate_keeps_the_first_occurrence_with_its_own_rule(capsys):
    model = Tied()
    groups = groups_for(model, {"bypass_duplicate": True, "custom_keys": {"embed": {"lr_mult": 0.5}}})
    got = per_param(model, groups)
    assert list(got) == ["embed.weight", "body.weight", "body.bias", "norm.weight", "norm.bias"]
    assert got["embed.weight"][:2] == pytest.approx((0.05, WD))
    assert "skipped tied lm_head.weight (= embed.weight)" in capsys.readouterr().err


def test_tied_frozen_weights_are_deduplicated_too():
    """MMCV raises here even with bypass_duplicate=True (frozen parameters skip its check)."""
    model = Tied()
    model.embed.weight.requires_grad_(False)
    groups = groups_for(model, {"bypass_duplicate": True, "norm_decay_mult": 0.0})
    params = [p for g in groups for p in g["params"]]
    assert len(params) == len(set(params)) == 5
    assert torch.optim.SGD(groups, lr=LR)  # torch accepts the groups


def test_frozen_parameters_get_base_values_and_no_rule():
    model = LayerKinds()
    for name in ("stem.1.weight", "head.bias", "dw.bias"):
        model.get_parameter(name).requires_grad_(False)
    got = per_param(model, groups_for(model, {**ALL_OPTIONS, "custom_keys": {"head": {"lr_mult": 10.0}}}))
    assert got["stem.1.weight"][:2] == got["head.bias"][:2] == got["dw.bias"][:2] == (LR, WD)
    assert got["stem.1.bias"][:2] == (LR, 0.0) and got["head.weight"][:2] == pytest.approx((1.0, WD))
    assert "frozen" in got["head.bias"][2]


def test_a_ddp_wrapper_is_unwrapped():
    class Wrapper(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    model = cnn()
    direct = [(g["name"], len(g["params"])) for g in groups_for(model, {"norm_decay_mult": 0.0})]
    assert [(g["name"], len(g["params"])) for g in groups_for(Wrapper(model), {"norm_decay_mult": 0.0})] == direct


def test_dry_run_table_has_one_line_per_group_and_a_total():
    model = cnn()
    groups = groups_for(model, {"bias_decay_mult": 0.0, "norm_decay_mult": 0.0})
    lines = describe_param_groups(groups, model).splitlines()
    assert lines[0].split() == ["group", "tensors", "elements", "lr", "weight_decay", "examples"]
    assert len(lines) == len(groups) + 4 and lines[-1].split()[:2] == ["total", str(sum(len(g["params"]) for g in groups))]
    assert lines[2].split()[:2] == ["default", "6"] and "stem.0.weight" in lines[2]


def test_schedule_scales_each_merged_groups_own_base_lr(tmp_path):
    cfg = compose_config(["model=vit_tiny", "paramwise=backbone_lr", "schedule=cosine", "schedule.by_epoch=false",
                          "trainer.max_iters=3", "logging.log_every=1", "logging.tensorboard=false",
                          "logging.progress=false"])
    run(cfg, run_dir=tmp_path)
    train = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r["kind"] == "train"]
    lrs = [(r["train/lr/backbone"], r["train/lr/default"]) for r in train]
    assert len(lrs) == 3 and lrs[0][1] > lrs[-1][1]  # the schedule moved
    assert all(math.isclose(backbone, 0.1 * default) for backbone, default in lrs)
