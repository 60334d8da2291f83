"""docs/data.md is executed: every command of its "small user package" block runs from an
empty directory, as a user types it, and each training run reaches the accuracy below;
the augments line shown later composes and passes the config check."""
from __future__ import annotations

import re
import shlex

import pytest

from optkit.cli import check_command_line
from tests.conftest import REPO, run_train

DOC = (REPO / "docs" / "data.md").read_text()
BLOCK = re.search(r"## A small user package.*?```bash\n(.*?)```", DOC, re.S).group(1)
COMMANDS = [shlex.split(line)[1:] for line in BLOCK.strip().splitlines()]
# the least final top-1 each training command reaches (Rings: 3 rings with noise; shapes: 3 shapes)
LEAST_ACC = [0.8, 0.8, None, 0.6, 0.6]
VAL_LINE = re.compile(r"val loss [\d.]+ acc ([\d.]+) acc5 [\d.]+$", re.M)


def test_the_block_trains_a_dataset_a_custom_model_a_custom_loss_and_an_image_folder():
    assert len(COMMANDS) == len(LEAST_ACC)
    joined = [" ".join(c) for c in COMMANDS]
    assert "model=custom" in joined[0] and "loss=custom" in joined[1]
    assert "data.cache=true" in joined[4] and "data=image_folder" in joined[3]


@pytest.mark.slow
def test_every_command_of_the_block_runs_and_learns(tmp_path):
    for (script, *args), least in zip(COMMANDS, LEAST_ACC):
        out = run_train([*args, "logging.progress=false"] if script == "train.py" else args, cwd=tmp_path,
                        script=script, timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
        if least is not None:
            final = float(VAL_LINE.findall(out.stdout)[-1])
            assert final >= least, (args, out.stdout[-500:])


def test_the_augments_line_composes_and_passes_the_check():
    line = re.search(r"^python train\.py data=cifar10 data\.root=DIR (.*augments.*)$", DOC, re.M).group(1)
    assert check_command_line(["data=synthetic", "data.shape=[3,8,8]", *shlex.split(line)]) is not None
