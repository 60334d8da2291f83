"""docs/optimizers.md is executed: every `python train.py` command in its bash blocks
composes and passes the config check, the dry-run output shown is what a dry run prints, the
LBFGS, SAM and Muon sections' commands train (3 steps), and the weight-averaging and
schedule-free commands train (the EMA ones for a few steps)."""
from __future__ import annotations

import math
import re
import shlex
import sys

import pytest
import torch

from optkit import checkpoint
from optkit.cli import check_command_line
from optkit.train import run
from tests.conftest import REPO, compose_config

DOC = (REPO / "docs" / "optimizers.md").read_text()
COMMANDS = [line for block in re.findall(r"```bash\n(.*?)```", DOC, re.S) for line in block.splitlines()
            if line.startswith("python train.py")]


@pytest.fixture
def user_package(monkeypatch):
    """tests/ on sys.path, as the docs' PYTHONPATH note says (custom_opt, custom_models)."""
    monkeypatch.setattr(sys, "path", [str(REPO / "tests"), *sys.path])


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", COMMANDS)
def test_every_documented_command_passes_the_config_check(command, user_package):
    check_command_line(shlex.split(command)[2:])


def test_documented_dry_run_output_is_what_a_dry_run_prints(capsys):
    shown = re.search(r"prints the optimizer, the step kernel and the table.*?```\n(.*?)```", DOC, re.S).group(1)
    command = re.search(r"```bash\n(python train.py [^\n]*dry_run=true)\n```\n\nprints the optimizer", DOC).group(1)
    run(compose_config(shlex.split(command)[2:]))
    assert capsys.readouterr().out == shown


def section_commands(title: str) -> list[str]:
    section = DOC.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [line for block in re.findall(r"```bash\n(.*?)```", section, re.S) for line in block.splitlines()]


TRAINED_SECTIONS = ["Closure optimizers: LBFGS", "SAM: sharpness-aware minimization", "Muon on any model"]
TRAINED = [command for title in TRAINED_SECTIONS for command in section_commands(title)]


def test_each_new_optimizer_section_shows_commands():
    assert all(section_commands(title) for title in TRAINED_SECTIONS)


@pytest.mark.parametrize("command", TRAINED)
def test_documented_lbfgs_sam_and_muon_commands_train(command, tmp_path):
    """Run as documented, shortened to 3 steps (the last override wins)."""
    cfg = compose_config([*shlex.split(command)[2:], "trainer.max_iters=3", "logging.tensorboard=false",
                          "logging.progress=false"])
    run(cfg, run_dir=tmp_path)
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert saved["progress"]["step"] == 3 and math.isfinite(saved["progress"]["last_val"]["val/loss"])


def test_documented_muon_split_is_what_a_dry_run_prints(capsys):
    shown = re.search(r"The dry run shows the split:\n\n```\n(.*?)```", DOC, re.S).group(1)
    command = re.search(r"\(`(python train.py [^`]*optimizer=muon trainer.dry_run=true)`\.\)", DOC).group(1)
    run(compose_config(shlex.split(command)[2:]))
    assert capsys.readouterr().out == shown


AVERAGING = [c for c in COMMANDS if any(word in c for word in ("ema=", "swa=", "schedule_free"))]


def test_the_averaging_and_schedule_free_sections_show_commands():
    assert len(AVERAGING) == 5


@pytest.mark.slow  # several short training runs
@pytest.mark.parametrize("command", AVERAGING)
def test_documented_averaging_and_schedule_free_commands_train(command, user_package, tmp_path):
    args = shlex.split(command)[2:] + ["trainer.device=cpu", "logging.tensorboard=false", "logging.progress=false"]
    if "swa=" not in command:  # the SWA example is a short run already
        args.append("trainer.max_iters=5")
    run(compose_config(args), run_dir=tmp_path)
    final = checkpoint.load(tmp_path / "last.pt")
    last_val = [line for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"val"' in line][-1]
    if "schedule_free" in command:
        assert final["optimizer"]["param_groups"][0]["train_mode"] is False  # saved in eval mode
    else:
        assert "val_raw/acc" in last_val and ("ema" in final or "swa" in final)
