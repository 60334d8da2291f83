"""docs/optimizers.md is executed: every `python train.py` command in its bash blocks
composes and passes the config check, the dry-run output shown is what a dry run prints, and
the weight-averaging and schedule-free commands train (the EMA ones for a few steps)."""
from __future__ import annotations

import re
import shlex
import sys

import pytest

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


TRAINED = [c for c in COMMANDS if any(word in c for word in ("ema=", "swa=", "schedule_free"))]


def test_the_averaging_and_schedule_free_sections_show_commands():
    assert len(TRAINED) == 5


@pytest.mark.slow  # several short training runs
@pytest.mark.parametrize("command", TRAINED)
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
