"""`grad.remainder=mmcv` reproduces MMCV 1.x GradientCumulativeOptimizerHook: against a
run worked out by hand, against MMCV 1.7.2 itself (tests/fixtures, from
scripts/mmcv_reference/grad_cumulative.py), and against the flush rule where the two agree."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from optkit import checkpoint
from optkit.data import batch_slices
from optkit.grad import GradStep, WindowPlan
from optkit.schedule import CosineAnnealing, Fixed, Schedule, Scheduler, Timeline, Warmup
from optkit.train import run
from tests.conftest import compose_config

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mmcv_grad_cumulative.json").read_text())


def train(plan: WindowPlan, model, optimizer, scheduler, step: GradStep, orders, x, y, epochs: int):
    """The loop's inner part: per epoch, each window's lr, then its optimizer step."""
    history = []
    for epoch in range(epochs):
        for window in plan.epoch(epoch, lambda e: torch.tensor(orders[e])):
            scheduler.apply(window.schedule_step)
            step(window, lambda index: (x[index], y[index]))
            history.append((window.schedule_step, optimizer.param_groups[0]["lr"], model.weight.detach().clone()))
    return history


def scalar_model(w: float) -> torch.nn.Linear:
    model = torch.nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(w)
    return model


@pytest.mark.parametrize("remainder", ["mmcv", "flush"])
def test_windows_and_weights_worked_out_by_hand(remainder):
    """y ≈ w·x, mean squared error, 5 samples in micro-batches of 2 (so [s0 s1] [s2 s3] [s4]
    per epoch), k=4, 2 epochs, plain SGD with lr 0.1, no shuffling.

    mmcv: 6 micro-batches numbered g=0..5; windows {0,1,2,3} (crossing into epoch 1, each
    loss / 4) and the remainder {4,5} (6 % 4 = 2: each loss / 2).
    flush: one window per epoch, the three micro-batches weighted 2/5, 2/5, 1/5."""
    xs, ys, lr = [1.0, 2.0, -1.0, 0.5, 3.0], [2.0, 3.0, 0.0, 1.0, 4.0], 0.1
    x, y = torch.tensor(xs, dtype=torch.float64)[:, None], torch.tensor(ys, dtype=torch.float64)[:, None]

    def grad(samples: list[int], w: float) -> float:  # d/dw of the mean of (w·x − y)² over samples
        return sum(2 * xs[i] * (w * xs[i] - ys[i]) for i in samples) / len(samples)

    b0, b1, b2 = [0, 1], [2, 3], [4]
    if remainder == "mmcv":
        w1 = 0.0 - lr * (grad(b0, 0.0) + grad(b1, 0.0) + grad(b2, 0.0) + grad(b0, 0.0)) / 4
        expected = [(3, w1), (5, w1 - lr * (grad(b1, w1) + grad(b2, w1)) / 2)]
    else:
        w1 = 0.0 - lr * (2 * grad(b0, 0.0) + 2 * grad(b1, 0.0) + grad(b2, 0.0)) / 5
        expected = [(0, w1), (1, w1 - lr * (2 * grad(b0, w1) + 2 * grad(b1, w1) + grad(b2, w1)) / 5)]

    model = scalar_model(0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    unit = 3 if remainder == "mmcv" else 1  # the schedule counts micro-batches or steps per epoch
    scheduler = Scheduler(optimizer, Schedule(Fixed(), Warmup(), Timeline(unit, 2 * unit)))
    plan = WindowPlan(tuple(batch_slices(5, 2, False)), 4, remainder, max_iters=2 * unit)
    history = train(plan, model, optimizer, scheduler, GradStep(model, optimizer, F.mse_loss),
                    [list(range(5))] * 2, x, y, epochs=2)
    assert [(g, w.item()) for g, _, w in history] == [(g, pytest.approx(w, rel=1e-12)) for g, w in expected]


@pytest.mark.parametrize("case", sorted(FIXTURE["cases"]))
def test_matches_mmcv_gradient_cumulative_optimizer_hook(case):
    """Same weights and lr as MMCV after every optimizer step, in float64: windows across
    epochs, remainder divisor, clipping of the accumulated gradient, micro-batch schedule
    (epoch-based cosine with a 4-iteration linear warmup)."""
    ref = FIXTURE["cases"][case]
    x, y = torch.tensor(FIXTURE["x"], dtype=torch.float64), torch.tensor(FIXTURE["y"], dtype=torch.float64)
    model = torch.nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor(FIXTURE["initial_weight"], dtype=torch.float64))
    o, s = FIXTURE["optimizer"], FIXTURE["schedule"]
    optimizer = torch.optim.SGD(model.parameters(), lr=o["lr"], momentum=o["momentum"], weight_decay=o["weight_decay"])
    epochs, slices = FIXTURE["max_epochs"], tuple(batch_slices(len(FIXTURE["x"]), FIXTURE["batch_size"], False))
    timeline = Timeline(len(slices), epochs * len(slices))  # MMCV's runner.iter: micro-batches
    schedule = Schedule(CosineAnnealing(by_epoch=s["by_epoch"], min_lr_ratio=s["min_lr_ratio"]),
                        Warmup(s["warmup"], s["warmup_iters"], s["warmup_ratio"]), timeline)
    plan = WindowPlan(slices, ref["cumulative_iters"], "mmcv", timeline.max_iters)
    step = GradStep(model, optimizer, F.mse_loss, max_norm=ref["max_norm"])
    history = train(plan, model, optimizer, Scheduler(optimizer, schedule), step, FIXTURE["orders"], x, y, epochs)

    weights = torch.tensor(ref["weights"], dtype=torch.float64)
    changed = [g for g in range(len(weights)) if not torch.equal(weights[g], weights[g - 1] if g else weights[0])]
    assert [g for g, _, _ in history] == changed  # MMCV's weights move exactly where we step
    for g, lr, w in history:
        assert lr == pytest.approx(ref["lr"][g], rel=1e-12), g
        torch.testing.assert_close(w.flatten(), weights[g], rtol=1e-12, atol=1e-14, msg=f"iter {g}")


def test_mmcv_and_flush_agree_when_windows_fit_the_epoch(tmp_path):
    """1024 samples = 16 micro-batches of 64 = 4 windows of 4: no window crosses an epoch,
    every micro-batch is full, and an epoch-based schedule reads the same lr in both units."""
    common = ["model=mlp", "data=synthetic", "data.num_train=1024", "data.batch_size=64", "grad.accumulate=4",
              "optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "optimizer.weight_decay=1e-3",
              "schedule=cosine", "schedule.min_lr_ratio=0.1", "trainer.max_epochs=3", "grad=clip",
              "grad.clip.max_norm=1.0", "logging.tensorboard=false", "logging.progress=false"]
    weights = {}
    for remainder in ("flush", "mmcv"):
        run(compose_config([*common, f"grad.remainder={remainder}"]), run_dir=tmp_path / remainder)
        state = torch.load(tmp_path / remainder / checkpoint.LAST, weights_only=True)
        assert state["progress"]["step"] == 12
        weights[remainder] = state["model"]
    for key, value in weights["flush"].items():
        assert torch.equal(value, weights["mmcv"][key]), key


def test_windows_longer_than_an_epoch_run_through_the_loop(tmp_path):
    """Digits in 3 micro-batches of ≤512 per epoch, k=4, 3 epochs: 9 micro-batches, steps
    after micro-batches 3, 7 and 8; epoch 0 ends with no step, and is still evaluated."""
    cfg = compose_config(["model=mlp", "data.batch_size=512", "grad.accumulate=4", "grad.remainder=mmcv",
                          "trainer.max_epochs=3", "logging.tensorboard=false", "logging.progress=false"])
    run(cfg, run_dir=tmp_path)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "val"] == [0, 1, 3]
    state = torch.load(tmp_path / checkpoint.LAST, weights_only=True)["progress"]
    assert (state["step"], state["epoch"], state["epoch_step"]) == (3, 3, 0)
