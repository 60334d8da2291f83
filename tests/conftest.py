"""Shared fixtures: compose configs like train.py does, run train.py in a subprocess.

Tests marked `slow` (subprocess runs, sweeps, SLURM, DDP) run after the fast ones.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from optkit.config import CONF_DIR
from optkit.errors import forget_warnings

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)


@pytest.fixture(autouse=True)
def fresh_warnings():
    """optkit prints each warning once per process; every test gets to see its own."""
    forget_warnings()


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
