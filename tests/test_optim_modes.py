"""Optimizers with train()/eval() (schedule-free): trained in train mode, validated and
saved in eval mode, against the same steps taken by hand. The small ScheduleFreeSGD in
tests/custom_opt always runs; schedulefree's own SGDScheduleFree when that package is installed."""
from __future__ import annotations

import contextlib
import json

import pytest
import torch

from optkit import checkpoint, distributed
from optkit.data import epoch_order
from optkit.loop import evaluate
from optkit.optim.modes import has_modes
from optkit.schedule import Scheduler
from optkit.train import build_components, build_grad_step, run
from tests.conftest import compose_config

STEPS = 5
COMMON = ["optimizer=custom", "+optimizer.lr=0.05", "+optimizer.momentum=0.9", "schedule=fixed", "model=mlp",
          f"trainer.max_iters={STEPS}", "trainer.device=cpu", "logging.tensorboard=false", "logging.progress=false"]
OPTIMIZERS = {
    "tests": ["optimizer._target_=tests.custom_opt.schedule_free.ScheduleFreeSGD"],
    "schedulefree": ["optimizer._target_=schedulefree.SGDScheduleFree", "+optimizer.warmup_steps=0"],
}


def by_hand(cfg) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """STEPS steps in train mode; then what the run's end does: validate in eval mode, back
    to train, save in eval mode. Returns the validation metrics and the saved weights."""
    built = build_components(cfg, distributed.detect(), torch.device("cpu"))
    model, optimizer = built.model, built.optimizer
    step = build_grad_step(cfg, model, optimizer, built.scaler, built.autocast)
    scheduler = Scheduler(optimizer, built.schedule)
    windows = built.windows.epoch(0, lambda e: epoch_order(len(built.data.train), e, cfg.trainer.seed, True))
    optimizer.train()
    model.train()
    for window in windows[:STEPS]:
        scheduler.apply(window.schedule_step)
        step(window, built.data.train_batch)
    optimizer.eval()
    metrics = evaluate(model, built.data, cfg.data.val_batch_size, contextlib.nullcontext)
    optimizer.train()
    optimizer.eval()
    return metrics, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_validation_and_checkpoints_see_the_eval_weights(name, tmp_path):
    if name == "schedulefree":
        pytest.importorskip("schedulefree")
    cfg = compose_config([*COMMON, *OPTIMIZERS[name]])
    run(cfg, run_dir=tmp_path)
    metrics, weights = by_hand(cfg)
    saved = checkpoint.load(tmp_path / "last.pt")
    for key, value in weights.items():
        assert torch.equal(saved["model"][key], value), key
    assert saved["optimizer"]["param_groups"][0]["train_mode"] is False
    val = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in val if r["kind"] == "val"][-1]
    assert (val["val/loss"], val["val/acc"]) == (metrics["val/loss"], metrics["val/acc"])


def test_only_optimizers_with_both_methods_have_modes():
    params = [torch.nn.Parameter(torch.zeros(1))]
    assert not has_modes(torch.optim.SGD(params, lr=0.1))
    from tests.custom_opt.schedule_free import ScheduleFreeSGD

    assert has_modes(ScheduleFreeSGD(params))
