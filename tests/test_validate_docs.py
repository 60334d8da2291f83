"""docs/robustness.md is executed: each `$ python train.py ...` of its console blocks prints
exactly the error line shown under it (through the pre-Hydra check)."""
from __future__ import annotations

import re
import shlex

import pytest

from optkit.cli import check_command_line
from optkit.errors import ConfigError
from tests.conftest import REPO

DOC = (REPO / "docs" / "robustness.md").read_text()
EXAMPLES = re.findall(r"^\$ python train\.py (.*)\n(optkit: config error: .*)$",
                      "\n".join(re.findall(r"```console\n(.*?)```", DOC, re.S)), re.M)


def test_the_docs_show_errors():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("args,line", EXAMPLES, ids=[a for a, _ in EXAMPLES])
def test_documented_error_is_what_optkit_prints(args, line):
    with pytest.raises(ConfigError) as err:
        check_command_line(shlex.split(args))
    assert f"optkit: {err.value.label}: {err.value.message()}" == line
