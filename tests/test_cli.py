"""The command line a user types: --help, --cfg job, and one-line errors with exit 2."""
from __future__ import annotations

import pytest

from optkit.cli import job_overrides, list_groups


@pytest.mark.slow
def test_help_lists_groups_and_options(train_cli):
    out = train_cli(["--help"])
    assert out.returncode == 0
    for line in ("optimizer: adam, adamax, adamw", "schedule: cosine, cosine_restart, cyclic, exp, fixed",
                 "warmup: constant, exp, linear, none",
                 "model: cnn, custom, mlp, resnet, vit_tiny", "data: cifar10, dataset, digits, image_folder, synthetic",
                 "hydra/launcher: local, slurm", "hydra/sweeper: optuna_search"):
        assert line.split(":")[0] in out.stdout and line.split(": ")[1] in out.stdout


@pytest.mark.slow
def test_help_shows_the_config_the_overrides_compose(train_cli):
    out = train_cli(["--help", "optimizer=sgd", "optimizer.lr=0.3"])
    assert out.returncode == 0 and out.stdout.startswith("optkit: optimization strategy experiments")
    assert "_target_: torch.optim.SGD" in out.stdout and "lr: 0.3" in out.stdout and "hydra:" not in out.stdout
    bad = train_cli(["--help", "schedule=cosin"])
    assert bad.returncode == 2 and bad.stderr.startswith("optkit: config error: schedule: unknown option")


@pytest.mark.slow
def test_cfg_job_prints_composed_config(train_cli):
    out = train_cli(["--cfg", "job", "optimizer=sgd", "optimizer.lr=0.3"])
    assert out.returncode == 0, out.stderr
    assert "_target_: torch.optim.SGD" in out.stdout and "lr: 0.3" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("line,expected", [
    ("python train.py optimizer=ad", {"optimizer=adam", "optimizer=adamw", "optimizer=adamax"}),
    ("python train.py optimizer=adamw optimizer.we", {"optimizer.weight_decay="}),
    ("python train.py warmup=", {"warmup=none", "warmup=linear", "warmup=exp", "warmup=constant"}),
])
def test_tab_completion_offers_options_and_keys(train_cli, line, expected):
    out = train_cli(["-sc", "query=bash"], env={"COMP_LINE": line, "COMP_POINT": str(len(line))})
    assert out.returncode == 0, out.stderr
    assert expected <= set(out.stdout.split())


@pytest.mark.slow
@pytest.mark.parametrize("args,key", [
    (["schedule=cosin"], "schedule"),
    (["optimizer.lrr=0.1"], "optimizer.lrr"),
    (["trainer.max_epochs=abc"], "trainer.max_epochs"),
    (["optimizer.lr=-1"], "optimizer.lr"),
    (["-m", "optimizer.lr=0.1,-0.1"], "optimizer.lr"),
    (["-m", "--cfg", "job", "optimizer.lr=0.1,0.01"], "--cfg"),
])
def test_bad_config_is_one_line_and_exit_2(train_cli, tmp_path, args, key):
    out = train_cli([*args, f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep"])
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"optkit: config error: {key}:"), out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_unknown_option_names_the_nearest(train_cli):
    out = train_cli(["optimizer=adamww"])
    assert "did you mean adamw" in out.stderr


def test_sweeps_expand_to_every_job():
    jobs = job_overrides(["optimizer=sgd,adamw", "optimizer.lr=0.1,0.01", "trainer.seed=1"], multirun=True)
    assert len(jobs) == 4 and all("trainer.seed=1" in job for job in jobs)
    assert job_overrides(["optimizer.lr=0.1,0.01"], multirun=False) == [["optimizer.lr=0.1,0.01"]]


def test_group_menu_lists_yaml_options():
    menu = list_groups()
    assert "paramwise: backbone_lr, no_decay_bias_norm, no_norm_decay, none, vit_no_decay_tokens" in menu
