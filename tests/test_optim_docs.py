"""docs/optimizers.md is executed: every `python train.py` command in its bash blocks
composes and passes the config check, and the dry-run output shown is what a dry run prints."""
from __future__ import annotations

import re
import shlex
import sys

import pytest

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
