"""optkit as a user installs it: the wheel (not an editable install) into a fresh virtualenv
that already has current SQLAlchemy 2 and Optuna 4, then every console command from an empty
directory, and the wheel's metadata (lower bounds only).

Slow: builds a wheel and a virtualenv (torch from this machine's local wheel, the rest from
PyPI through pip's cache)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

# Upper bounds a tested incompatibility needs (requirement name → why); none today.
UPPER_BOUNDS_ALLOWED: dict[str, str] = {}


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, timeout=1800)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build")
    shutil.copytree(REPO, build / "src", symlinks=True,
                    ignore=shutil.ignore_patterns(".venv", ".git", "outputs", "multirun", "build", "*.egg-info",
                                                  "__pycache__", ".pytest_cache"))
    proc = pip(Path(sys.executable), "wheel", "--no-deps", "-q", "-w", str(out), str(build / "src"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("optkit-*.whl")
    return found


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(name).decode())
    return meta.get_all("Requires-Dist") or []


def test_dependencies_are_lower_bounds(wheel):
    reqs = requirements(wheel)
    names = {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in reqs}
    assert {"torch", "hydra-core", "omegaconf", "optuna", "hydra-submitit-launcher"} <= names
    assert "hydra-optuna-sweeper" not in names
    for req in reqs:
        spec = req.split(";")[0]
        name = spec.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower()
        if name in UPPER_BOUNDS_ALLOWED:
            continue
        assert "<" not in spec and "==" not in spec and "~=" not in spec, f"upper bound on {spec!r}"
    assert any(r.replace(" ", "").startswith("optuna>=4") for r in reqs)


def test_the_wheel_holds_every_config(wheel):
    with zipfile.ZipFile(wheel) as z:
        shipped = {n.removeprefix("optkit/conf/") for n in z.namelist() if n.startswith("optkit/conf/")
                   and n.endswith(".yaml")}
        plugin = {n for n in z.namelist() if n.startswith("hydra_plugins/optkit_optuna/")}
    conf = REPO / "src" / "optkit" / "conf"
    assert shipped == {p.relative_to(conf).as_posix() for p in conf.rglob("*.yaml")}
    assert "hydra_plugins/optkit_optuna/sweeper.py" in plugin


def test_installed_wheel_runs_every_command_from_an_empty_directory(wheel, tmp_path):
    """pip keeps the environment's SQLAlchemy 2 and Optuna 4, `pip check` is clean, and
    optkit-train, -plot-lr, -lr-find and -from-mmcv work with no checkout in sight."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    for args in (["torch==2.13.0"], ["sqlalchemy>=2", "optuna>=4,<5"]):
        proc = pip(py, "install", "-q", *args)
        assert proc.returncode == 0, proc.stderr[-3000:]
    before = json.loads(pip(py, "list", "--format=json").stdout)
    proc = pip(py, "install", "-q", str(wheel))
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = {p["name"].lower(): p["version"] for p in json.loads(pip(py, "list", "--format=json").stdout)}
    for p in before:
        assert after[p["name"].lower()] == p["version"], f"{p['name']} changed"
    assert after["sqlalchemy"].startswith("2.") and after["optuna"].startswith("4.")
    check = pip(py, "check")
    assert check.returncode == 0, check.stdout

    work = tmp_path / "empty"
    work.mkdir()
    bin_ = venv / "bin"

    def run(*cmd: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(bin_ / cmd[0]), *cmd[1:]], cwd=work, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{cmd}: {proc.stderr[-3000:]}"
        return proc

    run("optkit-train", "trainer.max_epochs=1", "model=mlp", "logging.progress=false", "hydra.run.dir=run")
    records = [json.loads(line) for line in (work / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records if r["kind"] in ("start", "done")] == ["start", "done"]
    assert 0.5 < [r["val/acc"] for r in records if r["kind"] == "val"][-1] <= 1.0

    run("optkit-plot-lr", "schedule=step", "schedule.step=[2]", "trainer.max_epochs=4", "iters_per_epoch=3",
        "out=lr.png", "json=lr.json")
    curve = json.loads((work / "lr.json").read_text())
    assert curve["groups"][0]["lr"] == pytest.approx([1e-3] * 6 + [1e-4] * 6)
    assert (work / "lr.png").stat().st_size > 0

    run("optkit-lr-find", "model=mlp", "trainer.device=cpu", "num_iters=20", "out=find.png", "json=find.json")
    found = json.loads((work / "find.json").read_text())
    assert len(found["lr"]) == len(found["loss"]) > 0

    (work / "mmcv.py").write_text("lr_config = dict(policy='CosineAnnealing', min_lr_ratio=1e-5)\n")
    out = run("optkit-from-mmcv", "mmcv.py", "--overrides").stdout
    assert out.split() == ["schedule=cosine", "schedule.min_lr_ratio=1e-05"]
