"""The lr-curve tool: same config as train.py, no data loaded, the curves training applies."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from optkit import distributed
from optkit.data import DESCRIPTIONS, describe
from optkit.errors import ConfigError
from optkit.instantiate import instantiate_at
from optkit.optim import build_optimizer
from optkit.plot_lr import curves, main, split_args
from optkit.schedule import Scheduler
from optkit.schedule.build import build_schedule
from optkit.train import make_timeline
from tests.conftest import compose_config

RUN = ["optimizer=sgd", "optimizer.momentum=0.9", "optimizer.weight_decay=1e-4", "paramwise.bias_lr_mult=2",
       "paramwise.norm_decay_mult=0", "trainer.max_epochs=3"]


def read_png_and_json(tmp_path, args):
    main([*args, f"out={tmp_path}/lr.png", f"json={tmp_path}/lr.json"])
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return json.loads((tmp_path / "lr.json").read_text())


@pytest.mark.parametrize("extra,distinct", [
    (["schedule=cyclic", "momentum=cyclic", "warmup=linear", "warmup.iters=10"], 2),
    (["schedule=step", "schedule.step=[1,2]", "warmup=exp", "warmup.iters=1", "warmup.by_epoch=true"], 2),
    # a single OneCycle max_lr erases the paramwise multipliers, as in MMCV
    (["schedule=onecycle", "momentum=onecycle", "data=synthetic", "data.num_train=1000", "grad.accumulate=3"], 1),
])
def test_json_is_what_training_applies(tmp_path, extra, distinct):
    """Built the way train.run builds it (data loaded, real model), the scheduler writes
    exactly the tool's numbers, and iters_per_epoch comes from the static description."""
    got = read_png_and_json(tmp_path, [*RUN, *extra])
    cfg = compose_config([*RUN, *extra])
    data = instantiate_at("data", cfg.data)
    model = instantiate_at("model", cfg.model, in_shape=data.in_shape, num_classes=data.num_classes)
    optimizer = build_optimizer(model, cfg)
    timeline = make_timeline(cfg, len(data.train), distributed.DistInfo())
    scheduler = Scheduler(optimizer, build_schedule(cfg, timeline))
    assert (got["iters_per_epoch"], got["max_iters"]) == (timeline.iters_per_epoch, timeline.max_iters)
    assert [g["name"] for g in got["groups"]] == [g["name"] for g in optimizer.param_groups]
    for step in range(timeline.max_iters):
        scheduler.apply(step)
        for group, row in zip(optimizer.param_groups, got["groups"]):
            assert row["lr"][step] == group["lr"]
            assert row["momentum"][step] == group["momentum"]
    assert len({tuple(g["lr"]) for g in got["groups"]}) == distinct  # bias groups: twice the lr


def test_iters_per_epoch_and_max_iters_bound_the_curve(tmp_path):
    got = read_png_and_json(tmp_path, ["schedule=step", "schedule.step=[2]", "iters_per_epoch=7",
                                       "trainer.max_epochs=4"])
    assert (got["iters_per_epoch"], got["max_iters"]) == (7, 28)
    lr = got["groups"][0]["lr"]
    assert len(lr) == 28 and lr[13] == pytest.approx(1e-3) and lr[14] == pytest.approx(1e-4)
    got = read_png_and_json(tmp_path, ["iters_per_epoch=7", "trainer.max_iters=10"])
    assert got["max_iters"] == 10 and len(got["groups"][0]["lr"]) == 10


def test_momentum_is_constant_without_a_policy_and_null_without_a_key():
    cfg = compose_config(["optimizer=adamw", "trainer.max_epochs=1"])
    rows = curves(cfg)["groups"]
    assert all(np.all(row["momentum"] == 0.9) for row in rows)  # AdamW beta1
    cfg.optimizer = OmegaConf.create({"_target_": "torch.optim.Adagrad", "_partial_": True, "lr": 0.01})
    assert all(row["momentum"] is None for row in curves(cfg)["groups"])
    cfg.momentum = compose_config(["momentum=cyclic"]).momentum
    with pytest.raises(ConfigError) as err:
        curves(cfg)
    assert err.value.key == "momentum"


@pytest.mark.parametrize("args,key", [
    (["schedule=cosin"], "schedule"),
    (["schedule=step", "schedule.step=[3,2]"], "schedule.step"),
    (["schedule=cosine", "schedule.min_lr=0", "schedule.min_lr_ratio=0.1"], "schedule.min_lr"),
    (["warmup=linear", "warmup.ratio=0"], "warmup.ratio"),
    (["optimizer.lr=0"], "optimizer.lr"),
    (["schedule=onecycle", "schedule.total_steps=10"], "schedule.total_steps"),
    (["iters_per_epoch=0"], "iters_per_epoch"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys, args, key):
    with pytest.raises(SystemExit) as exit_:
        main([*args, f"out={tmp_path}/lr.png"])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"optkit: config error: {key}:"), lines
    assert not (tmp_path / "lr.png").exists()


def test_tool_arguments_are_not_config_keys():
    assert split_args(["a=1", "out=x.png", "json=y.json", "iters_per_epoch=3", "+b=2"]) == (
        ["a=1", "+b=2"], {"out": "x.png", "json": "y.json", "iters_per_epoch": "3"})


@pytest.mark.parametrize("option", ["digits", "synthetic"])
def test_static_data_description_matches_the_loaded_data(option):
    node = compose_config([f"data={option}"]).data
    assert describe(node) == instantiate_at("data", node).info()


def test_every_data_option_has_a_description():
    from optkit.config import CONF_DIR

    for path in (CONF_DIR / "data").glob("*.yaml"):
        assert compose_config([f"data={path.stem}"]).data._target_ in DESCRIPTIONS


def test_model_is_built_on_the_meta_device(monkeypatch):
    """No weights are materialised: the optimizer's parameters live on the meta device."""
    seen = []
    original = torch.optim.SGD.__init__

    def spy(self, params, *args, **kwargs):
        params = list(params)
        seen.extend(p.device.type for group in params for p in group["params"])
        original(self, params, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "__init__", spy)
    curves(compose_config(["optimizer=sgd", "model=resnet", "trainer.max_epochs=1"]))
    assert seen and set(seen) == {"meta"}


@pytest.mark.slow
def test_script_and_console_entry(train_cli, tmp_path):
    args = ["schedule=cyclic", "momentum=cyclic", "optimizer=sgd", "optimizer.momentum=0.9", "iters_per_epoch=5"]
    out = train_cli([*args, f"out={tmp_path}/a.png", f"json={tmp_path}/a.json"], script="scripts/plot_lr.py")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "a.json").read_text())["max_iters"] == 150
    out = train_cli(["schedule=cyclic", "schedule.by_epoch=true", f"out={tmp_path}/b.png"], script="scripts/plot_lr.py")
    assert out.returncode == 2 and out.stderr.startswith("optkit: config error: schedule.by_epoch:")
    assert "Traceback" not in out.stderr and not (tmp_path / "b.png").exists()
    entry = Path(sys.executable).parent / "optkit-plot-lr"
    out = subprocess.run([str(entry), *args, f"out={tmp_path}/c.png"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_every_scheduled_key_gets_a_json_list_and_a_panel(tmp_path):
    """A weight-decay curve beside lr and momentum: plot_lr's rows hold what the Scheduler
    writes, weight_decay is a list (null when constant), and the PNG has one panel per key."""
    from optkit.plot_lr import group_curves, plot, to_json
    from optkit.schedule import CosineAnnealing, CyclicMomentum, PolicyCurve, Schedule, Timeline, Warmup

    def optimizer():
        a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
        return torch.optim.SGD([{"params": [a], "name": "default"},
                                {"params": [b], "name": "bias", "lr": 0.2, "weight_decay": 0.0}],
                               lr=0.1, momentum=0.9, weight_decay=1e-4)

    timeline = Timeline(iters_per_epoch=4, max_iters=20)
    schedule = Schedule(CosineAnnealing(by_epoch=False), Warmup("linear", 3, 0.1), timeline, CyclicMomentum(),
                        extra=(PolicyCurve("weight_decay", CosineAnnealing(by_epoch=False, min_lr_ratio=0.0)),))
    data = group_curves(optimizer().param_groups, schedule)
    trained = optimizer()
    scheduler = Scheduler(trained, schedule)
    for step in range(20):
        scheduler.apply(step)
        for group, row in zip(trained.param_groups, data["groups"]):
            assert [row[key][step] for key in ("lr", "momentum", "weight_decay")] == \
                [group["lr"], group["momentum"], group["weight_decay"]]
    got = to_json(data)["groups"]
    assert got[0]["weight_decay"][0] == 1e-4 and got[0]["weight_decay"][-1] < 1e-5 and set(got[1]["weight_decay"]) == {0.0}
    heights = {}
    for name, rows in (("three", data["groups"]), ("two", [{**row, "weight_decay": None} for row in data["groups"]])):
        plot({**data, "groups": rows}, tmp_path / f"{name}.png", name)
        heights[name] = int.from_bytes((tmp_path / f"{name}.png").read_bytes()[20:24], "big")  # PNG IHDR height
    assert heights == {"three": round((0.8 + 2.9 * 3) * 120), "two": round((0.8 + 2.9 * 2) * 120)}
    constant = group_curves(optimizer().param_groups, Schedule(CosineAnnealing(), Warmup(), timeline))
    assert all(row["weight_decay"] is None for row in constant["groups"])
