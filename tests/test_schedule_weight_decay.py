"""`wd_schedule=cosine`: each group's weight decay against DINO's `cosine_scheduler` (and
MMPretrain's CosineAnnealingWeightDecay, the same closed form) step by step, groups without
weight decay keeping none; drawn by plot_lr (JSON `weight_decay`) and logged per group."""
from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
from torch import nn

from optkit.errors import ConfigError
from optkit.optim import build_optimizer
from optkit.plot_lr import main as plot_lr
from optkit.schedule import Scheduler, Timeline
from optkit.schedule.build import build_schedule
from optkit.train import run
from optkit.validate import check
from tests.conftest import REPO, compose_config


def dino_cosine_scheduler(base_value: float, final_value: float, epochs: int, niter_per_ep: int) -> np.ndarray:
    """facebookresearch/dino utils.cosine_scheduler without warmup, as written there."""
    iters = np.arange(epochs * niter_per_ep)
    return final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * iters / len(iters)))


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))


def weight_decays(overrides: list[str], epochs: int, per_epoch: int) -> dict[str, list[float]]:
    cfg = compose_config(["optimizer=adamw", "paramwise=no_decay_bias_norm", *overrides])
    optimizer = build_optimizer(model(), cfg)
    scheduler = Scheduler(optimizer, build_schedule(cfg, Timeline(per_epoch, epochs * per_epoch)))
    values: dict[str, list[float]] = {group["name"]: [] for group in optimizer.param_groups}
    for step in range(epochs * per_epoch):
        scheduler.apply(step)
        for group in optimizer.param_groups:
            values[group["name"]].append(group["weight_decay"])
    return values


@pytest.mark.parametrize("base,end_ratio", [(0.04, 10.0), (0.05, 0.0), (0.3, 0.1)])
def test_cosine_weight_decay_is_dinos_per_step_curve(base, end_ratio):
    values = weight_decays([f"optimizer.weight_decay={base}", "wd_schedule=cosine",
                            f"wd_schedule.end_ratio={end_ratio}"], epochs=3, per_epoch=7)
    np.testing.assert_allclose(values["default"], dino_cosine_scheduler(base, base * end_ratio, 3, 7), rtol=1e-13)
    assert values["bias+norm"] == [0.0] * 21


def test_by_epoch_changes_only_at_epoch_starts():
    values = weight_decays(["optimizer.weight_decay=0.1", "wd_schedule=cosine", "wd_schedule.by_epoch=true"],
                           epochs=4, per_epoch=5)["default"]
    per_epoch = dino_cosine_scheduler(0.1, 0.0, 4, 1)
    np.testing.assert_allclose(values, np.repeat(per_epoch, 5), rtol=1e-13)


def test_none_leaves_the_weight_decay_alone():
    values = weight_decays(["optimizer.weight_decay=0.05"], epochs=2, per_epoch=3)
    assert values["default"] == [0.05] * 6


def test_the_documented_plot_lr_command_draws_the_weight_decay_per_group(tmp_path, monkeypatch):
    """docs/schedules.md, "Weight decay": its command, run (files written under tmp_path)."""
    doc = (REPO / "docs" / "schedules.md").read_text().split("## Weight decay", 1)[1]
    command = re.search(r"```bash\n(python scripts/plot_lr.py [^\n]*)\n```", doc).group(1)
    monkeypatch.chdir(tmp_path)
    plot_lr(shlex.split(command)[2:])
    data = json.loads((tmp_path / "wd.json").read_text())
    groups = {g["name"]: g for g in data["groups"]}
    np.testing.assert_allclose(groups["default"]["weight_decay"],
                               dino_cosine_scheduler(0.04, 0.4, 100, data["iters_per_epoch"]), rtol=1e-12)
    assert groups["bias+norm"]["weight_decay"] == [0.0] * data["max_iters"]


def test_training_logs_the_weight_decay_of_every_group(tmp_path):
    run(compose_config(["model=mlp", "optimizer=adamw", "optimizer.weight_decay=0.04", "paramwise=no_decay_bias_norm",
                        "wd_schedule=cosine", "wd_schedule.end_ratio=10", "trainer.max_iters=6", "trainer.device=cpu",
                        "logging.log_every=1", "logging.tensorboard=false", "logging.progress=false"]), run_dir=tmp_path)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    logged = [r["train/weight_decay/default"] for r in records if r["kind"] == "train"]
    np.testing.assert_allclose(logged, dino_cosine_scheduler(0.04, 0.4, 1, 6), rtol=1e-13)
    assert all(r["train/weight_decay/bias"] == 0.0 for r in records if r["kind"] == "train")  # the MLP's biases


def test_a_negative_end_ratio_is_one_config_error():
    with pytest.raises(ConfigError) as err:
        check(compose_config(["wd_schedule=cosine", "wd_schedule.end_ratio=-1"]))
    assert err.value.key == "wd_schedule.end_ratio"
