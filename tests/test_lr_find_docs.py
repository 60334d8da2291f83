"""docs/hyperparameters.md is executed as far as it can be quickly: every command in its bash
blocks passes the config check (lr_find's own arguments parsed too), and the picture it shows
is the one its first command writes."""
from __future__ import annotations

import re
import shlex

import pytest

from optkit.cli import check_command_line
from optkit.lr_find import TOOL_ARGS, RangeTest
from optkit.plot_lr import split_args
from tests.conftest import REPO

DOC = (REPO / "docs" / "hyperparameters.md").read_text()
COMMANDS = [line for block in re.findall(r"```bash\n(.*?)```", DOC, re.S) for line in block.splitlines()
            if line.startswith("python ")]


def test_the_doc_finds_sets_and_sweeps():
    scripts = [shlex.split(c)[1] for c in COMMANDS]
    assert scripts[0] == "scripts/lr_find.py" and scripts.count("train.py") >= 3


@pytest.mark.parametrize("command", COMMANDS)
def test_every_documented_command_passes_the_config_check(command):
    args = shlex.split(command)[2:]
    if shlex.split(command)[1] == "scripts/lr_find.py":
        args, tool = split_args(args, TOOL_ARGS)
        RangeTest.from_args(tool)
    check_command_line(args)


def test_the_picture_is_the_first_commands_output():
    args = dict(arg.partition("=")[::2] for arg in shlex.split(COMMANDS[0])[2:])
    assert f"]({args['out'].removeprefix('docs/')})" in DOC
    assert (REPO / args["out"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
