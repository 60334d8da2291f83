"""Resuming compares the checkpoint's config with the current one: what changes the run is
refused (one line naming the keys) unless trainer.resume_force, the rest is free; the run
length may change when the curves agree; a corrupt last.pt falls back to prev.pt exactly."""
from __future__ import annotations

import json

import pytest
import torch

from optkit import checkpoint
from optkit.errors import ConfigError
from optkit.resume import changed_keys
from optkit.train import run
from tests.conftest import compose_config

BASE = ["model=mlp", "schedule=fixed", "trainer.max_iters=6", "trainer.device=cpu", "trainer.deterministic=true",
        "logging.log_every=1", "logging.tensorboard=false", "logging.progress=false"]
SGD = ["optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9"]


def train(run_dir, *extra, optimizer=SGD):
    return run(compose_config([*BASE, *optimizer, *extra]), run_dir=run_dir)


def state(run_dir, name=checkpoint.LAST):
    return torch.load(run_dir / name, weights_only=True)


def logged(run_dir, tag):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r[tag] for r in records if tag in r}


SAVED = {"optimizer": {"_target_": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9},
         "grad": {"clip": None, "accumulate": 1},
         "trainer": {"max_epochs": 3, "eval_every": 1, "seed": 0}, "logging": {"log_every": 10},
         "data": {"batch_size": 64, "val_batch_size": 512, "root": "/a"}}


@pytest.mark.parametrize("change,expected", [
    ({"logging": {"log_every": 1}}, {}),
    ({"trainer": {"max_epochs": 3, "eval_every": 5, "seed": 0}}, {}),
    ({"data": {"batch_size": 64, "val_batch_size": 100, "root": "/b"}}, {}),
    ({"optimizer": {"_target_": "torch.optim.SGD", "lr": 0.2, "momentum": 0.9}}, {"optimizer.lr": (0.1, 0.2)}),
    ({"optimizer": {"_target_": "torch.optim.AdamW", "lr": 0.1, "betas": [0.9, 0.999]}},
     {"optimizer._target_": ("torch.optim.SGD", "torch.optim.AdamW")}),
    ({"grad": {"clip": {"max_norm": 35}, "accumulate": 1}},
     {"grad.clip": (None, "(absent)"), "grad.clip.max_norm": ("(absent)", 35)}),
    ({"data": {"batch_size": 32, "val_batch_size": 512, "root": "/a"}}, {"data.batch_size": (64, 32)}),
    ({"trainer": {"max_epochs": 3, "eval_every": 1, "seed": 1}}, {"trainer.seed": (0, 1)}),
    ({"trainer": {"max_epochs": 6, "eval_every": 1, "seed": 0}}, {"trainer.max_epochs": (3, 6)}),
])
def test_which_changes_count(change, expected):
    assert changed_keys(SAVED, {**SAVED, **change}) == expected


def test_a_changed_optimizer_is_refused_before_anything_is_written(tmp_path):
    train(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in ("last.pt", "metrics.jsonl")}
    with pytest.raises(ConfigError) as err:
        train(tmp_path, "optimizer.lr=0.1", "grad=clip")
    assert err.value.key == "trainer.resume"
    message = err.value.message()
    assert "grad.clip.max_norm (None -> 35.0), optimizer.lr (0.05 -> 0.1)" in message and "\n" not in message
    assert "trainer.resume_force=true" in message
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


def test_harmless_changes_resume(tmp_path, capsys):
    train(tmp_path, "trainer.max_iters=3")
    train(tmp_path, "trainer.max_iters=6", "logging.log_every=2", "trainer.eval_every=4", "data.val_batch_size=100",
          "trainer.nonfinite=skip", "trainer.ckpt_every=2")
    assert f"resumed from {tmp_path / 'last.pt'} at step 3" in capsys.readouterr().out
    assert state(tmp_path)["progress"]["step"] == 6


@pytest.mark.parametrize("schedule,allowed", [
    (["schedule=fixed"], True),
    (["schedule=step", "schedule.step=[100]", "schedule.by_epoch=false"], True),  # milestone beyond both runs
    (["schedule=cosine", "schedule.by_epoch=false"], False),  # every step depends on the length
])
def test_the_run_length_may_change_when_the_curves_agree(tmp_path, schedule, allowed):
    train(tmp_path, *schedule, "trainer.max_iters=4")
    if allowed:
        train(tmp_path, *schedule, "trainer.max_iters=8")
        assert state(tmp_path)["progress"]["step"] == 8
        return
    with pytest.raises(ConfigError) as err:
        train(tmp_path, *schedule, "trainer.max_iters=8")
    assert "trainer.max_iters (4 -> 8)" in err.value.message()


def test_resume_force_applies_the_new_settings(tmp_path, capsys):
    train(tmp_path, "trainer.max_iters=3")
    before = state(tmp_path)["optimizer"]["state"]
    train(tmp_path, "optimizer.lr=0.2", "optimizer.weight_decay=0.01", "trainer.resume_force=true")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"optkit: warning: trainer.resume_force: resuming {tmp_path / 'last.pt'} with changed settings: "
                   "optimizer.lr (0.05 -> 0.2), optimizer.weight_decay (0.0 -> 0.01), trainer.max_iters (3 -> 6)"]
    lrs = logged(tmp_path, "train/lr/default")
    assert [lrs[s] for s in (1, 2, 3)] == [0.05] * 3 and [lrs[s] for s in (4, 5, 6)] == [0.2] * 3
    after = state(tmp_path)["optimizer"]
    # the base lr is the config's (0.2), each group keeps its multiplier of it (issue 17: no initial_lr)
    assert after["param_groups"][0]["weight_decay"] == 0.01 and after["param_groups"][0]["lr_mult"] == 1.0
    assert "initial_lr" not in after["param_groups"][0]
    assert len(after["state"]) == len(before)  # the momentum buffers went on


def test_resume_force_with_another_optimizer_starts_its_state_afresh(tmp_path, capsys):
    train(tmp_path, "trainer.max_iters=3")
    train(tmp_path, "trainer.resume_force=true", optimizer=["optimizer=adamw", "optimizer.lr=0.01"])
    assert "torch.optim.AdamW starts afresh" in capsys.readouterr().err
    final = state(tmp_path)
    assert final["progress"]["step"] == 6 and "exp_avg" in final["optimizer"]["state"][0]


def test_a_truncated_last_pt_resumes_from_prev_pt_exactly(tmp_path, capsys):
    train(tmp_path / "full", "trainer.ckpt_every=1", "trainer.ckpt_by_epoch=false")
    cut = tmp_path / "cut"
    train(cut, "trainer.ckpt_every=1", "trainer.ckpt_by_epoch=false", "trainer.max_iters=4")
    data = (cut / "last.pt").read_bytes()
    (cut / "last.pt").unlink()  # a new file: prev.pt is a hard link to an older inode, left alone
    (cut / "last.pt").write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    train(cut, "trainer.ckpt_every=1", "trainer.ckpt_by_epoch=false")
    out, err = capsys.readouterr()
    assert f"resumed from {cut / 'prev.pt'} at step 3" in out  # prev.pt: the save before the run's final one
    assert err.startswith(f"optkit: warning: {cut / 'last.pt'}: cannot be loaded (")
    assert (cut / "last.pt.corrupt").exists()
    a, b = state(tmp_path / "full"), state(cut)
    assert a["progress"]["step"] == b["progress"]["step"] == 6
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_comparing_run_lengths_prints_no_warning_of_the_old_run(tmp_path, capsys):
    train(tmp_path, "warmup=linear", "warmup.iters=5", "trainer.max_iters=3")  # warns: warmup covers the run
    capsys.readouterr()
    train(tmp_path, "warmup=linear", "warmup.iters=5", "trainer.max_iters=8")
    assert capsys.readouterr().err == ""
    assert state(tmp_path)["progress"]["step"] == 8
