"""The importer on MMEngine-format configs (MMPretrain 1.x, both formats): the reader against
what MMEngine 0.10.7's `Config.fromfile` reads, each key's translation, the exit status, and
the imported lr curve against MMEngine's own schedulers (tests/fixtures/mmengine_schedules.json)."""
from __future__ import annotations

import json
import shlex
import textwrap

import numpy as np
import pytest

from optkit.from_mmcv.emit import override_line
from optkit.from_mmcv.main import main
from optkit.from_mmcv.mmengine_keys import named_types, translate_mmengine
from optkit.from_mmcv.read import ReadError, read_config
from optkit.from_mmcv.translation import plain
from optkit.plot_lr import curves
from tests.conftest import REPO, compose_config

FIXTURES = REPO / "tests" / "fixtures" / "mmengine_configs"
REFERENCE = json.loads((REPO / "tests" / "fixtures" / "mmengine_schedules.json").read_text())["fixtures"]
NO_TORCH_OPTIMIZER = {"configs/_base_/schedules/imagenet_bs2048_rsb.py", "configs/_base_/schedules/imagenet_lars_coslr_200e.py",
                      "configs/_base_/schedules/imagenet_lars_coslr_90e.py"}


def imported(name: str) -> str:
    cfg = read_config(FIXTURES / name)
    return override_line(translate_mmengine(cfg, name))


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reader_reads_what_mmengine_reads(name):
    cfg = read_config(FIXTURES / name)
    expected = REFERENCE[name]["config"]
    assert {key: plain(named_types(cfg[key])) for key in expected} == expected


EXPECTED = {
    "configs/_base_/schedules/cub_bs64.py":
        "optimizer=sgd schedule=chain optimizer.lr=0.01 optimizer.momentum=0.9 optimizer.weight_decay=0.0005 "
        "optimizer.nesterov=true 'schedule.param_scheduler=[{type:LinearLR,start_factor:0.01,by_epoch:true,begin:0,"
        "end:5,convert_to_iter_based:true},{type:CosineAnnealingLR,T_max:95,by_epoch:true,begin:5,end:100}]' "
        "trainer.max_epochs=100 trainer.eval_every=1",
    "chains/onecycle_adamw.py":
        "optimizer=adamw schedule=chain optimizer.lr=0.001 'optimizer.betas=[0.9,0.99]' optimizer.weight_decay=0.05 "
        "'schedule.param_scheduler=[{type:OneCycleLR,eta_max:0.01,pct_start:0.25,three_phase:true,by_epoch:false,"
        "total_steps:120},{type:CosineAnnealingMomentum,eta_min:0.85,by_epoch:false,begin:0,end:60},"
        "{type:LinearMomentum,start_factor:0.95,by_epoch:false,begin:60,end:120},{type:LinearParamScheduler,"
        "param_name:weight_decay,start_factor:1.0,end_factor:0.1,by_epoch:false,begin:20}]' grad.clip_value=1.0 grad.accumulate=2 grad.remainder=mmcv trainer.amp=fp16 "
        "trainer.max_iters=120 trainer.ckpt_every=40",
    "mmpretrain/configs/convnext/convnext-tiny_32xb128_in1k.py":
        "optimizer=adamw schedule=chain paramwise=no_decay_bias_norm data.batch_size=128 optimizer.lr=0.004 "
        "optimizer.weight_decay=0.05 optimizer.eps=1e-08 'optimizer.betas=[0.9,0.999]' "
        "'schedule.param_scheduler=[{type:LinearLR,start_factor:0.001,by_epoch:true,end:20,"
        "convert_to_iter_based:true},{type:CosineAnnealingLR,eta_min:1e-05,by_epoch:true,begin:20}]' "
        "paramwise.flat_decay_mult=0.0 "
        "'++paramwise.custom_keys={.absolute_pos_embed:{decay_mult:0.0},.relative_position_bias_table:{decay_mult:0.0}}' "
        "paramwise.rule_order=mmengine trainer.max_epochs=300 trainer.eval_every=1 trainer.ckpt_every=1 logging.log_every=100 "
        "'augments=[{type:BatchMixup,alpha:0.8,prob:0.5},{type:BatchCutMix,alpha:1.0,prob:0.5}]' "
        "loss.label_smoothing=0.1",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_translation(name):
    assert imported(name) == EXPECTED[name]


@pytest.mark.parametrize("name, line", [
    ("chains/onecycle_adamw.py", "train_cfg.val_interval: counts iterations here"),
    ("configs/convnext/convnext-tiny_32xb128_in1k.py", "custom_hooks.0: 'EMAHook': EMA of the weights"),
    ("configs/_base_/schedules/imagenet_bs2048_rsb.py", "optim_wrapper.optimizer.type: 'Lamb' is not in torch.optim"),
])
def test_what_is_dropped_is_one_line_per_key_and_exit_1(name, line, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) as err:
        main([str(FIXTURES / name), "--overrides"])
    captured = capsys.readouterr()
    assert err.value.code == 1 and f"optkit-from-mmcv: not translated: {line}" in captured.err
    assert captured.out.startswith("optimizer=")


def test_everything_translated_exits_0_and_inactive_auto_scale_lr_is_a_note(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    main([str(FIXTURES / "configs/_base_/schedules/imagenet_bs256.py"), "--overrides"])
    err = capsys.readouterr().err
    assert "note: auto_scale_lr: not enabled" in err and "not translated: auto_scale_lr" not in err


def test_lamb_is_reported_with_the_custom_optimizer_recipe():
    t = translate_mmengine(read_config(FIXTURES / "configs/_base_/schedules/imagenet_bs2048_rsb.py"), "rsb")
    assert "optim_wrapper.optimizer.type: bring the class with optimizer=custom optimizer._target_=<module>.Lamb " \
           "(docs/tutorial.md, custom optimizer)" in t.notes


@pytest.mark.parametrize("clip, expected", [
    ("dict(max_norm=1.0, norm_type=1)", {("grad", "clip", "max_norm"): 1.0, ("grad", "clip", "norm_type"): 1}),
    ("dict(type='value', clip_value=0.5)", {("grad", "clip_value"): 0.5}),
    ("None", {}),
])
def test_clip_grad(clip, expected, tmp_path):
    path = tmp_path / "c.py"
    path.write_text(f"optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1), clip_grad={clip})\n")
    t = translate_mmengine(read_config(path), "c.py")
    assert {k: v for k, v in t.values.items() if k[0] == "grad"} == expected and not t.dropped


def test_new_style_update_merges_and_assignment_replaces(tmp_path):
    (tmp_path / "_base_").mkdir()
    (tmp_path / "_base_" / "sched.py").write_text(textwrap.dedent("""\
        from torch.optim import SGD
        optim_wrapper = dict(optimizer=dict(type=SGD, lr=0.1, momentum=0.9), clip_grad=dict(max_norm=1.0))
        train_cfg = dict(by_epoch=True, max_epochs=10)
        """))
    (tmp_path / "c.py").write_text(textwrap.dedent("""\
        from mmengine.config import read_base
        with read_base():
            from ._base_.sched import *
        optim_wrapper.update(optimizer=dict(lr=0.2), clip_grad=None)
        train_cfg = dict(by_epoch=False, max_iters=5)
        """))
    cfg = read_config(tmp_path / "c.py")
    assert plain(named_types(cfg["optim_wrapper"])) == {"optimizer": {"type": "SGD", "lr": 0.2, "momentum": 0.9},
                                                        "clip_grad": None}
    assert cfg["train_cfg"] == {"by_epoch": False, "max_iters": 5}


@pytest.mark.parametrize("body, message", [
    ("with read_base():\n    from mmpretrain.configs._base_ import x\n", "by package name"),
    ("with read_base():\n    x = 1\n", "only `from .base import ...`"),
    ("x = 1\nx.update(a=1)\n", "x is not a dict bound earlier"),
])
def test_new_style_refusals_are_one_line(body, message, tmp_path):
    (tmp_path / "c.py").write_text(body)
    with pytest.raises(ReadError, match=message):
        read_config(tmp_path / "c.py")


RUNNABLE = sorted(name for name, entry in REFERENCE.items() if "curves" in entry and name not in NO_TORCH_OPTIMIZER)


@pytest.mark.parametrize("name", RUNNABLE)
def test_imported_curves_equal_mmengine(name):
    """train.py's composed config after the import: lr, momentum and weight decay of the group
    with the optimizer's own values, at every step, are MMEngine's (its schedulers on the
    fixture, run by its own hook). The paramwise rules are left out (model=mlp has one group):
    their custom keys name parameters of models optkit does not ship."""
    reference = REFERENCE[name]["curves"]
    ipe = reference["iters_per_epoch"]
    line = [item for item in shlex.split(imported(name)) if not item.lstrip("+").startswith("paramwise")]
    run = ["model=mlp", "data=synthetic", *line]
    if name.startswith("chains/onecycle"):
        run.append(f"trainer.max_epochs={reference['max_iters'] // ipe}")
    got = curves(compose_config(run), iters_per_epoch=ipe)
    assert got["max_iters"] == reference["max_iters"]
    [group] = got["groups"]
    for key, rle in reference["groups"][0].items():
        expected = np.concatenate([np.full(n, v) for v, n in rle])
        values = group[key] if group[key] is not None else np.full(got["max_iters"], expected[0])
        np.testing.assert_allclose(values, expected, rtol=1e-9, atol=0, err_msg=key)
