"""End to end on digits: event files read back, checkpoints on disk, exact resume."""
from __future__ import annotations

import json
import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from optkit import checkpoint
from optkit.train import run
from tests.conftest import compose_config


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    cfg = compose_config(["model=mlp", "optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9",
                          "schedule=fixed", "trainer.max_epochs=1", "logging.log_every=5", "grad=clip"])
    best = run(cfg, run_dir=run_dir)
    return run_dir, cfg, best


def test_event_files_hold_the_configured_lr_and_every_scalar(one_epoch):
    run_dir, cfg, best = one_epoch
    tags = scalars(run_dir)
    lrs = [v for _, v in tags["train/lr/default"]]
    assert lrs and all(math.isclose(v, 0.05, rel_tol=1e-6) for v in lrs)
    assert all(math.isclose(v, 0.9, rel_tol=1e-6) for _, v in tags["train/momentum/default"])
    for tag in ("train/loss", "train/grad_norm", "train/samples_per_s", "val/loss", "val/acc"):
        assert tag in tags, tag
    assert [step for step, _ in tags["train/loss"]] == list(range(5, 23, 5))
    assert math.isclose(tags["val/acc"][-1][1], best, rel_tol=1e-6)


def test_metrics_jsonl_mirrors_tensorboard(one_epoch):
    run_dir, _, _ = one_epoch
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    tags = scalars(run_dir)
    assert [r["train/loss"] for r in train] == pytest.approx([v for _, v in tags["train/loss"]], rel=1e-6)


def test_last_checkpoint_loads_weights_only_and_holds_the_model(one_epoch):
    run_dir, cfg, _ = one_epoch
    state = torch.load(run_dir / "last.pt", weights_only=True)
    assert state["progress"]["step"] == 23 and state["progress"]["epoch"] == 1
    assert state["config"]["optimizer"]["lr"] == 0.05
    model_keys = {"body.1.weight", "body.1.bias", "body.3.weight", "body.3.bias", "head.weight", "head.bias"}
    assert set(state["model"]) == model_keys
    assert (run_dir / checkpoint.BEST).exists()


def test_resume_from_a_finished_run_does_nothing_more(one_epoch, tmp_path):
    run_dir, cfg, best = one_epoch
    before = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    assert run(cfg, run_dir=run_dir) == pytest.approx(best)
    after = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
