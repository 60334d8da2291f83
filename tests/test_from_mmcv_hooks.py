"""The importer's issue-15 keys: MMCV `custom_hooks=[dict(type='EMAHook', ...)]` → `ema=mmcv`,
MMDetection `auto_scale_lr` → `auto_scale_lr.*`; what does not translate is reported."""
from __future__ import annotations

import shlex

import pytest

from optkit.averaging import MmcvEma
from optkit.from_mmcv.emit import override_line
from optkit.from_mmcv.translate import translate
from optkit.instantiate import instantiate_at
from optkit.optim import build_optimizer
from optkit.validate import check
from tests.conftest import compose_config
from tests.test_averaging_ema import fixture_model

MMDET = {  # an MMDetection 2.x schedule with EMA and lr scaling
    "optimizer": {"type": "SGD", "lr": 0.02, "momentum": 0.9, "weight_decay": 0.0001},
    "runner": {"type": "EpochBasedRunner", "max_epochs": 12},
    "data": {"samples_per_gpu": 2},
    "custom_hooks": [{"type": "NumClassCheckHook"},
                     {"type": "EMAHook", "momentum": 0.0001, "interval": 2, "warm_up": 200, "priority": 49}],
    "auto_scale_lr": {"enable": True, "base_batch_size": 16},
}


def test_ema_hook_and_auto_scale_lr_become_optkit_settings():
    t = translate(MMDET, "mmdet.py")
    assert t.options["ema"] == "mmcv"
    assert {p: v for p, v in t.values.items() if p[0] in ("ema", "auto_scale_lr")} == {
        ("ema", "momentum"): 0.0001, ("ema", "interval"): 2, ("ema", "warm_up"): 200,
        ("auto_scale_lr", "enable"): True, ("auto_scale_lr", "base_batch_size"): 16}
    assert t.skipped == ["custom_hooks[0]: 'NumClassCheckHook': no optkit equivalent (optkit translates MMCV's "
                         "EMAHook)"]
    cfg = compose_config(shlex.split(override_line(t)))
    check(cfg)
    assert instantiate_at("ema", cfg.ema) == MmcvEma(momentum=0.0001, interval=2, warm_up=200)
    lrs = [g["lr"] for g in build_optimizer(fixture_model(), cfg, world_size=8).param_groups]
    assert lrs == [pytest.approx(0.02 * 8 * 2 / 16)]  # 8 GPUs × 2 images, as MMDetection scales it


@pytest.mark.parametrize("cfg,line", [
    ({"custom_hooks": [{"type": "EMAHook", "momentum": 0.1, "decay": 0.9}]},
     "custom_hooks[0].decay: not an argument of EMAHook (MMCV: TypeError)"),
    ({"custom_hooks": [{"type": "EMAHook", "resume_from": "ema.pth"}]},
     "custom_hooks[0].resume_from: an MMCV checkpoint; optkit resumes only its own (trainer.resume)"),
    ({"custom_hooks": {"type": "EMAHook"}}, "custom_hooks: MMCV expects a list of hook dicts"),
    ({"auto_scale_lr": {"enable": True, "base_batch_size": 16, "rule": "x"}},
     "auto_scale_lr.rule: MMDetection reads enable and base_batch_size only"),
    ({"optimizer_config": {"type": "GradientCumulativeOptimizerHook", "cumulative_iters": 2},
      "auto_scale_lr": {"enable": True, "base_batch_size": 16}},
     "auto_scale_lr: optkit's total batch counts grad.accumulate too"),
])
def test_what_does_not_translate_is_one_line(cfg, line):
    t = translate(cfg, "c.py")
    assert any(entry.startswith(line) for entry in t.skipped + t.notes), t.skipped + t.notes
