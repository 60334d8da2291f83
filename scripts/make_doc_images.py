"""The lr plots of docs/tutorial.md, made by the tool the document tells users to run.

    python scripts/make_doc_images.py

Runs every `python scripts/plot_lr.py ... out=docs/img/NAME.png` command of the document's
bash blocks exactly as written (through optkit.plot_lr.main), and writes beside each PNG a
small `NAME.json`: the command, the run's length and the lr / momentum of every group at
about 100 evenly spaced steps. tests/test_tutorial.py re-runs each command and compares
its curves with that record and with the formulas the recipe implies, so a change of code,
recipe or command without new images fails the tests.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "tutorial.md"
PLOT = "python scripts/plot_lr.py "
SAMPLES = 101


def bash_commands(text: str) -> list[str]:
    """Every `python ...` line of the document's ```bash blocks."""
    blocks = re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.startswith("python ")]


def image_commands(text: str) -> dict[str, str]:
    """docs/img/NAME.png → the plot_lr command that draws it."""
    found = {}
    for command in bash_commands(text):
        if command.startswith(PLOT):
            out = dict(arg.split("=", 1) for arg in shlex.split(command) if arg.startswith("out="))
            if out.get("out", "").startswith("docs/img/"):
                found[out["out"]] = command
    return found


def tool_args(command: str) -> list[str]:
    return shlex.split(command)[2:]


def sample(data: dict[str, Any], command: str) -> dict[str, Any]:
    """The record kept beside the PNG: a few points of every curve of the tool's JSON."""
    steps = sorted(set(np.linspace(0, data["max_iters"] - 1, SAMPLES).round().astype(int).tolist()))
    groups = [{"name": g["name"], "lr": [g["lr"][i] for i in steps],
               "momentum": None if g["momentum"] is None else [g["momentum"][i] for i in steps]}
              for g in data["groups"]]
    return {"command": command, "iters_per_epoch": data["iters_per_epoch"], "max_iters": data["max_iters"],
            "steps": steps, "groups": groups}


def main() -> None:
    from optkit.plot_lr import main as plot_lr

    os.chdir(REPO)  # the commands name docs/img/... from the repository root
    commands = image_commands(DOC.read_text())
    if not commands:
        sys.exit(f"no `{PLOT}... out=docs/img/NAME.png` command in {DOC}")
    with tempfile.TemporaryDirectory() as tmp:
        for png, command in commands.items():
            curve = Path(tmp) / "curve.json"
            plot_lr([*tool_args(command), f"json={curve}"])
            record = sample(json.loads(curve.read_text()), command)
            (REPO / png).with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
