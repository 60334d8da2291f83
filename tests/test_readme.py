"""The README's group table names every option that conf/ ships, and nothing else."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HYDRA_BUILTIN = {"hydra/launcher": {"basic"}, "hydra/sweeper": {"basic"}}


def readme_table() -> dict[str, set[str]]:
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        match = re.match(r"\| `([\w/]+)` \| (.*?) \|.*\|$", line)
        if match:
            # options are the backticked words before any parenthesis (which holds keys, not options)
            options_text = re.sub(r"\([^)]*\)", "", match.group(2))
            rows[match.group(1)] = set(re.findall(r"`(\w+)`", options_text))
    return rows


def shipped(group: str) -> set[str]:
    return {path.stem for path in (REPO / "conf" / group).glob("*.yaml")}


GROUPS = sorted(p.relative_to(REPO / "conf").as_posix() for p in (REPO / "conf").glob("**/")
                if any(p.glob("*.yaml")) and p != REPO / "conf" and p.name != "help")


@pytest.mark.parametrize("group", GROUPS)
def test_readme_lists_every_option(group: str) -> None:
    table = readme_table()
    assert group in table, f"README's group table has no row for {group}"
    listed = table[group] - HYDRA_BUILTIN.get(group, set())
    if group == "experiment":  # `tutorial_*` stands for the tutorial's recipes
        listed |= {name for name in shipped(group) if name.startswith("tutorial_")}
    assert listed == shipped(group)
