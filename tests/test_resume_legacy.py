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


def resumed(resume: Path, run_dir: Path, overrides: list[str]) -> dict:
    run(compose_config([*overrides, f"trainer.resume={resume}"]), run_dir=run_dir)
    return checkpoint.load(run_dir / checkpoint.LAST)


def in_todays_format(old: dict, cfg) -> dict:
    """`old` with param groups as today's code saves them (multipliers, no `initial_*`), the
    weights, momentum buffers, progress and RNG states unchanged."""
    from optkit import distributed
    from optkit.schedule import Scheduler
    from optkit.train import build_components

    built = build_components(cfg, distributed.DistInfo(), torch.device("cpu"))
    Scheduler(built.optimizer, built.schedule)  # keeps the multipliers it derives in the groups
    new = dict(old, optimizer=dict(old["optimizer"], param_groups=[]))
    for today, group in zip(built.optimizer.state_dict()["param_groups"], old["optimizer"]["param_groups"]):
        values = {k: group[k] for k in ("params", "lr", "momentum", "weight_decay")}
        new["optimizer"]["param_groups"].append({**today, **values})
    assert not any("initial_lr" in g for g in new["optimizer"]["param_groups"])
    return new


@pytest.mark.slow  # whole (short) training runs, in process
def test_an_old_checkpoint_resumes_to_the_uninterrupted_run(tmp_path):
    """The lr and momentum of every group at every step come from the schedule (float64,
    the same on any CPU) and end as recorded; the weights end bitwise where the same
    checkpoint in today's format ends. (The recorded digest of the old code's uninterrupted
    weights holds only on a CPU computing as the one that wrote the fixture did.)"""
    expected = json.loads((FIXTURE / "final.json").read_text())
    old = checkpoint.load(FIXTURE / "mid.pt")
    assert all("initial_lr" in g and "initial_momentum" in g for g in old["optimizer"]["param_groups"])
    cfg = compose_config(expected["overrides"])
    # the saved config is today's: config fields added since then are not what this test is about
    old["config"] = OmegaConf.to_container(cfg, resolve=True)
    torch.save(old, tmp_path / "mid.pt")
    torch.save(in_todays_format(old, cfg), tmp_path / "mid_today.pt")
    final = resumed(tmp_path / "mid.pt", tmp_path / "run", expected["overrides"])
    assert final["progress"]["step"] == expected["step"]
    groups = final["optimizer"]["param_groups"]
    assert [g["lr"] for g in groups] == expected["lr"] and [g["momentum"] for g in groups] == expected["momentum"]
    today = resumed(tmp_path / "mid_today.pt", tmp_path / "today", expected["overrides"])
    assert digest(final["model"]) == digest(today["model"])
    assert [g["lr"] for g in today["optimizer"]["param_groups"]] == expected["lr"]


@pytest.mark.slow  # whole (short) training runs, in process
def test_an_old_checkpoint_resumes_with_the_config_it_was_saved_with(tmp_path):
    """Its saved config lacks every key optkit gained since (`loss`, `ema`, `trainer.monitor`,
    ...): those ran as their defaults run, so only a key set otherwise is a change, and the
    run ends bitwise where the same checkpoint holding today's config ends."""
    expected = json.loads((FIXTURE / "final.json").read_text())
    final = resumed(FIXTURE / "mid.pt", tmp_path / "run", expected["overrides"])
    old = checkpoint.load(FIXTURE / "mid.pt")
    old["config"] = OmegaConf.to_container(compose_config(expected["overrides"]), resolve=True)
    torch.save(old, tmp_path / "mid.pt")
    today = resumed(tmp_path / "mid.pt", tmp_path / "today", expected["overrides"])
    assert final["progress"]["step"] == expected["step"] and digest(final["model"]) == digest(today["model"])


@pytest.mark.parametrize("later", [["ema=ema"], ["loss.label_smoothing=0.1"]])
def test_a_key_added_later_and_set_otherwise_is_a_change(later, tmp_path):
    expected = json.loads((FIXTURE / "final.json").read_text())
    cfg = compose_config([*expected["overrides"], *later, f"trainer.resume={FIXTURE / 'mid.pt'}"])
    with pytest.raises(ConfigError, match=later[0].split("=")[0].split(".")[0]):
        run(cfg, run_dir=tmp_path / "run")
