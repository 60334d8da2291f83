"""Shared fixtures: compose configs like train.py does, run train.py in a subprocess.

Tests marked `slow` (subprocess runs, sweeps, SLURM, DDP) run after the fast ones.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from optkit.config import CONF_DIR

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="train"):
        return compose("train", overrides=list(overrides))


@pytest.fixture
def compose_cfg():
    return compose_config


def run_train(args: Sequence[str], *, cwd: Path | None = None, timeout: float = 300,
              env: dict | None = None, script: str = "train.py") -> subprocess.CompletedProcess:
    """`python train.py ARGS` as a user runs it; never raises on a non-zero exit."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


@pytest.fixture
def train_cli():
    return run_train


def wait_for_training(proc: subprocess.Popen, root: Path, pattern: str, timeout: float = 120) -> Path:
    """Poll until a `metrics.jsonl` matching `root/pattern` holds a train record (the run is
    mid-training, past its set-up); return that run dir. Fails if `proc` ends first."""
    deadline = time.time() + timeout
    while True:
        for path in root.glob(pattern):
            if '"kind": "train"' in path.read_text():
                return path.parent
        assert proc.poll() is None and time.time() < deadline, "run ended or hung before its first train log"
        time.sleep(0.02)


def weight_difference(run_a: Path, run_b: Path) -> float:
    """Largest absolute difference between the model weights in two runs' last.pt."""
    import torch

    a = torch.load(Path(run_a) / "last.pt", weights_only=True)["model"]
    b = torch.load(Path(run_b) / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)
