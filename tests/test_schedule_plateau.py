"""`schedule=plateau` against torch's ReduceLROnPlateau on a recorded metric sequence, and
restored exactly on resume; plot_lr says that the curve depends on the metric."""
from __future__ import annotations

import re
import shlex

import pytest
import torch
from torch import nn

from optkit import checkpoint
from optkit.plot_lr import main as plot_lr
from optkit.schedule import Plateau, PlateauTracker, Schedule, Scheduler, Timeline, Warmup
from optkit.train import run
from tests.conftest import REPO, compose_config

METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.8999, 0.9, 0.9, 0.9, 0.9, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77,
           0.699, 0.6999, 0.7, 0.7, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
SETTINGS = [  # Plateau / ReduceLROnPlateau keyword arguments
    {},
    {"patience": 1},
    {"patience": 2, "cooldown": 2, "factor": 0.5},
    {"patience": 0, "threshold": 0.05, "threshold_mode": "abs"},
    {"patience": 1, "mode": "max", "factor": 0.3},
    {"patience": 0, "factor": 0.2, "min_lr": 0.015},
    {"patience": 0, "factor": 0.5, "eps": 0.03},
]


def two_groups() -> torch.optim.SGD:
    model = nn.Linear(2, 2)
    return torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.2}], lr=0.1)


@pytest.mark.parametrize("settings", SETTINGS, ids=[str(s) for s in SETTINGS])
def test_plateau_equals_torchs_reduce_lr_on_plateau_on_a_recorded_metric_sequence(settings):
    ours, theirs = two_groups(), two_groups()
    policy = Plateau(**settings)
    scheduler = Scheduler(ours, Schedule(policy, Warmup(), Timeline(1, len(METRICS))))
    tracker, state = PlateauTracker(policy, scheduler), {}
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **settings)
    for step, metric in enumerate(METRICS):
        scheduler.apply(step)
        assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups], step
        state = tracker.observe({"val/loss": metric} if policy.mode == "min" else {"val/loss": -metric}, state)
        reference.step(metric if policy.mode == "min" else -metric)
    assert reference.num_bad_epochs == state["num_bad"] and reference.cooldown_counter == state["cooldown_counter"]
    assert theirs.param_groups[0]["lr"] < 0.1 or settings in ({}, {"patience": 1, "mode": "max", "factor": 0.3})


def test_an_unknown_monitor_names_the_metrics_there_are():
    policy = Plateau(monitor="val/acc5")
    tracker = PlateauTracker(policy, Scheduler(two_groups(), Schedule(policy, Warmup(), Timeline(1, 3))))
    with pytest.raises(Exception) as err:
        tracker.observe({"val/loss": 1.0, "val/acc": 0.5}, {})
    assert "schedule.monitor" in str(err.value) and "val/acc" in str(err.value)


RUN = ["model=mlp", "optimizer=sgd", "optimizer.lr=0.1", "schedule=plateau", "schedule.monitor=val/loss",
       "schedule.mode=max", "schedule.patience=0", "schedule.factor=0.5", "data.batch_size=512",
       "trainer.device=cpu", "trainer.deterministic=true", "logging.tensorboard=false", "logging.progress=false"]


def test_a_resumed_run_goes_on_with_the_reduced_lr_bitwise(tmp_path):
    """mode=max on a falling loss: every validation after the first is a bad one, patience 0,
    so the lr halves after each epoch from the second; a run stopped after 2 epochs and
    resumed for 4 equals 4 epochs in one go."""
    run(compose_config([*RUN, "trainer.max_epochs=4"]), run_dir=tmp_path / "full")
    run(compose_config([*RUN, "trainer.max_epochs=2"]), run_dir=tmp_path / "cut")
    assert checkpoint.load(tmp_path / "cut" / "last.pt")["progress"]["plateau"]["lrs"] == [0.05]
    run(compose_config([*RUN, "trainer.max_epochs=4"]), run_dir=tmp_path / "cut")
    full, cut = (checkpoint.load(tmp_path / d / "last.pt") for d in ("full", "cut"))
    assert full["progress"] == cut["progress"] and full["progress"]["plateau"]["lrs"] == [0.1 / 2**3]
    for key, value in full["model"].items():
        assert torch.equal(value, cut["model"][key]), key


def test_the_documented_plot_lr_command_says_the_curve_depends_on_the_metric(tmp_path, capsys, monkeypatch):
    """docs/schedules.md, "Driven by a metric": its command, run (the PNG under tmp_path)."""
    doc = (REPO / "docs" / "schedules.md").read_text().split("## Driven by a metric", 1)[1]
    command = re.search(r"```bash\n(python scripts/plot_lr.py [^\n]*)\n```", doc).group(1)
    monkeypatch.chdir(tmp_path)
    plot_lr(shlex.split(command)[2:])
    assert (tmp_path / "plateau.png").exists()
    assert ("schedule=plateau: the lr depends on the validation metric (val/acc); drawn as it is until the first "
            "reduction, which only training can tell") in capsys.readouterr().out
