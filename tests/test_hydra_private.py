"""optkit.hydra_private: the one module that uses Hydra's private API, and what it returns."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from optkit.hydra_private import basic_sweeper_jobs, parse_args

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / "src" / "optkit" / "hydra_private.py"


def private_uses(path: Path) -> list[int]:
    """Lines of `path` that import from, or name, `hydra._internal`."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" not in node.value:
            names = [node.value]
        if any(name.startswith("hydra._internal") for name in names):
            lines.append(node.lineno)
    return lines


def test_hydra_internal_is_used_only_in_hydra_private():
    files = [*(REPO / "src").rglob("*.py"), *(REPO / "scripts").rglob("*.py"), REPO / "train.py"]
    elsewhere = {str(p.relative_to(REPO)): private_uses(p) for p in files if p != HOME and private_uses(p)}
    assert elsewhere == {}
    assert len(private_uses(HOME)) >= 5  # the module itself is found by the same scan


@pytest.mark.parametrize("overrides, jobs", [
    (["a=1,2", "b=x,y"], [["a=1", "b=x"], ["a=1", "b=y"], ["a=2", "b=x"], ["a=2", "b=y"]]),
    (["a=range(0,3)", "c=5"], [["a=0", "c=5"], ["a=1", "c=5"], ["a=2", "c=5"]]),
    (["c=5"], [["c=5"]]),
])
def test_basic_sweeper_jobs_in_job_number_order(overrides, jobs):
    assert basic_sweeper_jobs(overrides) == jobs


@pytest.mark.parametrize("argv, multirun, cfg, overrides", [
    (["-m", "a=1,2"], True, None, ["a=1,2"]),
    (["--cfg", "job", "a=1"], False, "job", ["a=1"]),
    (["a=1", "b=2"], False, None, ["a=1", "b=2"]),
])
def test_parse_args_reads_hydras_flags(argv, multirun, cfg, overrides):
    args = parse_args(argv)
    assert (args.multirun, args.cfg, list(args.overrides)) == (multirun, cfg, overrides)
