"""A checkpoint written before param groups kept their multipliers (its groups hold the
Scheduler's old `initial_lr` / `initial_momentum`) resumes with today's code and finishes
bitwise equal to the same run left uninterrupted under the old code
(tests/fixtures/checkpoints/before_multipliers/, written by scripts/legacy_checkpoint.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from optkit import checkpoint
from optkit.train import run
from scripts.legacy_checkpoint import digest
from tests.conftest import compose_config

FIXTURE = Path(__file__).parent / "fixtures" / "checkpoints" / "before_multipliers"


@pytest.mark.slow  # a whole (short) training run, in process
def test_an_old_checkpoint_resumes_to_the_uninterrupted_run(tmp_path):
    expected = json.loads((FIXTURE / "final.json").read_text())
    old = checkpoint.load(FIXTURE / "mid.pt")
    assert all("initial_lr" in g and "initial_momentum" in g for g in old["optimizer"]["param_groups"])
    cfg = compose_config(expected["overrides"])
    # the saved config is today's: config fields added since then are not what this test is about
    old["config"] = OmegaConf.to_container(cfg, resolve=True)
    torch.save(old, tmp_path / "mid.pt")
    run(compose_config([*expected["overrides"], f"trainer.resume={tmp_path / 'mid.pt'}"]), run_dir=tmp_path / "run")
    final = checkpoint.load(tmp_path / "run" / checkpoint.LAST)
    assert final["progress"]["step"] == expected["step"]
    assert digest(final["model"]) == expected["model"]
    groups = final["optimizer"]["param_groups"]
    assert [g["lr"] for g in groups] == expected["lr"] and [g["momentum"] for g in groups] == expected["momentum"]
