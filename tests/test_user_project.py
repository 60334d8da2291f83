"""A user project's own config directory beside optkit's (`--config-dir ./conf`):
examples/user_project/ (its own model, optimizer and recipe) run from outside the checkout,
its options in `--help` and tab completion, and its options overriding optkit's."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optkit.cli import print_help
from optkit.compose import check_command_line
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "user_project"
SGD = "_target_: torch.optim.SGD\n_partial_: true\nlr: 0.123\nmomentum: 0.5\n"


@pytest.fixture
def project(tmp_path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "proj")
    (tmp_path / "proj" / "conf" / "optimizer" / "sgd.yaml").write_text(SGD)  # named like optkit's own
    return tmp_path / "proj"


@pytest.mark.parametrize("args,key,value", [
    (["+experiment=my_run"], "optimizer._target_", "my_project.signum.Signum"),
    (["+experiment=my_run"], "model.width", 64),
    (["+experiment=my_run"], "schedule.step", [2]),
    (["optimizer=sgd"], "optimizer.lr", 0.123),  # the project's sgd.yaml, not optkit's
    (["optimizer=adamw"], "optimizer.lr", 0.001),  # optkit's options stay where the project has none
])
def test_the_projects_options_compose_first(project, args, key, value):
    from omegaconf import OmegaConf

    cfg = check_command_line(["--config-dir", str(project / "conf"), *args], validate_jobs=False)
    assert OmegaConf.select(cfg, key) == value


def test_help_lists_the_projects_options(project, capsys):
    assert print_help(["--config-dir", str(project / "conf"), "--help"])
    menu = {line.split(":")[0].strip(): line.split(":", 1)[1] for line in capsys.readouterr().out.splitlines()
            if line.startswith("  ") and ":" in line}
    assert {"my_net", "mlp", "cnn"} <= {o.strip() for o in menu["model"].split(",")}
    assert {"my_signum", "sgd", "adamw"} <= {o.strip() for o in menu["optimizer"].split(",")}
    assert {"my_run", "tutorial_sgd"} <= {o.strip() for o in menu["+experiment"].split(",")}


def console(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@pytest.mark.slow
def test_the_example_project_trains_from_outside_the_checkout(project):
    env = {**os.environ, "PYTHONPATH": str(project)}
    proc = subprocess.run([console("optkit-train"), "--config-dir", "./conf", "+experiment=my_run", "hydra.run.dir=run",
                           "logging.progress=false"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = yaml.safe_load((project / "run" / ".hydra" / "config.yaml").read_text())
    assert (cfg["model"]["_target_"], cfg["optimizer"]["_target_"]) == ("my_project.net.MyNet",
                                                                         "my_project.signum.Signum")
    records = [json.loads(line) for line in (project / "run" / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r[k] for r in records if r["kind"] == "train" for k in r if k.startswith("train/lr/")}
    assert lrs and all(lr == pytest.approx(0.003 if step <= 46 else 0.0003) for step, lr in lrs.items())
    assert max(r["val/acc"] for r in records if r["kind"] == "val") > 0.9

    proc = subprocess.run([console("optkit-train"), "--config-dir", "./conf", "optimizer=sgd", "trainer.max_epochs=1",
                           "model=mlp", "hydra.run.dir=sgd", "logging.progress=false"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert yaml.safe_load((project / "sgd" / ".hydra" / "config.yaml").read_text())["optimizer"]["lr"] == 0.123

    completion = subprocess.run([console("optkit-train"), "-sc", "query=bash"], cwd=project, capture_output=True,
                                text=True, timeout=120,
                                env={**env, "COMP_LINE": "optkit-train --config-dir ./conf optimizer=my"})
    assert completion.stdout.split() == ["optimizer=my_signum"]
