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
from optkit.errors import ConfigError
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


@pytest.mark.slow  # a whole (short) training run, in process
def test_an_old_checkpoint_resumes_with_the_config_it_was_saved_with(tmp_path):
    """Its saved config lacks every key optkit gained since (`loss`, `ema`, `trainer.monitor`,
    ...): those ran as their defaults run, so only a key set otherwise is a change."""
    expected = json.loads((FIXTURE / "final.json").read_text())
    run(compose_config([*expected["overrides"], f"trainer.resume={FIXTURE / 'mid.pt'}"]), run_dir=tmp_path / "run")
    final = checkpoint.load(tmp_path / "run" / checkpoint.LAST)
    assert final["progress"]["step"] == expected["step"] and digest(final["model"]) == expected["model"]


@pytest.mark.parametrize("later", [["ema=ema"], ["loss.label_smoothing=0.1"]])
def test_a_key_added_later_and_set_otherwise_is_a_change(later, tmp_path):
    expected = json.loads((FIXTURE / "final.json").read_text())
    cfg = compose_config([*expected["overrides"], *later, f"trainer.resume={FIXTURE / 'mid.pt'}"])
    with pytest.raises(ConfigError, match=later[0].split("=")[0].split(".")[0]):
        run(cfg, run_dir=tmp_path / "run")
