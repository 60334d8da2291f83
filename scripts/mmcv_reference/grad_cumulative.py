"""Weights and lrs from MMCV 1.7.2's GradientCumulativeOptimizerHook, driven like an
EpochBasedRunner, for `tests/test_grad_mmcv.py` (optkit's `grad.remainder=mmcv`).

Runs in the throw-away MMCV virtualenv (see ../shared/MMCV_SEMANTICS.md), never in
optkit's own environment:

    /tmp/mmcv-venv/bin/python scripts/mmcv_reference/grad_cumulative.py -o tests/fixtures/mmcv_grad_cumulative.json

Each case: a Linear(3, 2) with fixed weights, 5 samples in micro-batches of 2 (so every epoch
ends with a batch of 1), a fixed sample order per epoch, mean-squared-error loss, SGD with
momentum and weight decay, an epoch-based cosine schedule with an iteration warmup (so the
schedule's unit matters), clipping by norm, and `cumulative_iters` k. The fake runner calls
the hooks in EpochBasedRunner's order: lr hook `before_run`; per epoch `before_train_epoch`;
per micro-batch `before_train_iter`, forward, optimizer hook `after_train_iter`, `iter += 1`.
Recorded after every micro-batch: the lr of group 0 and the flattened weights.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from mmcv.runner.hooks import CosineAnnealingLrUpdaterHook, GradientCumulativeOptimizerHook

N_SAMPLES, BATCH, EPOCHS = 5, 2, 3
CASES = [  # (name, cumulative_iters, max_norm)
    ("k2", 2, 0.5),  # windows cross every epoch boundary; the run's last window is 1 micro-batch
    ("k4", 4, 0.5),  # no window ends in epoch 0
    ("k5", 5, 10.0),  # the remainder window has 4 micro-batches (loss / 4); no clipping
]


class LogBuffer:
    def update(self, *_args, **_kwargs) -> None:
        pass


class FakeRunner:
    """What the two hooks read: epoch, iter, max_iters, data_loader length, optimizer, model."""

    def __init__(self, model, optimizer, iters_per_epoch: int) -> None:
        self.model, self.optimizer = model, optimizer
        self.epoch = self.iter = self.inner_iter = 0
        self.max_epochs = EPOCHS
        self.data_loader = range(iters_per_epoch)
        self.max_iters = self._max_iters = EPOCHS * iters_per_epoch
        self.logger = logging.getLogger("fake-runner")
        self.log_buffer = LogBuffer()
        self.outputs: dict = {}


def data() -> tuple[torch.Tensor, torch.Tensor, list[list[int]], torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N_SAMPLES, 3, generator=g, dtype=torch.float64)
    y = torch.randn(N_SAMPLES, 2, generator=g, dtype=torch.float64)
    orders = [torch.randperm(N_SAMPLES, generator=g).tolist() for _ in range(EPOCHS)]
    weight = torch.randn(2, 3, generator=g, dtype=torch.float64)
    return x, y, orders, weight


def run_case(k: int, max_norm: float) -> dict:
    x, y, orders, weight = data()
    model = torch.nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.01)
    batches = [list(range(i, min(i + BATCH, N_SAMPLES))) for i in range(0, N_SAMPLES, BATCH)]
    runner = FakeRunner(model, optimizer, len(batches))
    lr_hook = CosineAnnealingLrUpdaterHook(min_lr_ratio=0.1, by_epoch=True, warmup="linear", warmup_iters=4,
                                           warmup_ratio=0.1)
    opt_hook = GradientCumulativeOptimizerHook(cumulative_iters=k, grad_clip=dict(max_norm=max_norm, norm_type=2))
    lr_hook.before_run(runner)
    lrs, weights = [], []
    for epoch in range(EPOCHS):
        runner.epoch = epoch
        lr_hook.before_train_epoch(runner)
        for inner, positions in enumerate(batches):
            runner.inner_iter = inner
            lr_hook.before_train_iter(runner)
            index = [orders[epoch][p] for p in positions]
            loss = F.mse_loss(model(x[index]), y[index])
            runner.outputs = {"loss": loss, "num_samples": len(index)}
            opt_hook.after_train_iter(runner)
            lrs.append(optimizer.param_groups[0]["lr"])
            weights.append(model.weight.detach().flatten().tolist())
            runner.iter += 1
    return {"cumulative_iters": k, "max_norm": max_norm, "lr": lrs, "weights": weights}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the hook warns about the remainder iterations, by design
    x, y, orders, weight = data()
    out = {
        "generator": "scripts/mmcv_reference/grad_cumulative.py (mmcv 1.7.2)",
        "batch_size": BATCH, "max_epochs": EPOCHS, "orders": orders,
        "x": x.tolist(), "y": y.tolist(), "initial_weight": weight.tolist(),
        "optimizer": {"lr": 0.5, "momentum": 0.9, "weight_decay": 0.01},
        "schedule": {"policy": "CosineAnnealing", "min_lr_ratio": 0.1, "by_epoch": True,
                     "warmup": "linear", "warmup_iters": 4, "warmup_ratio": 0.1},
        "cases": {name: run_case(k, max_norm) for name, k, max_norm in CASES},
    }
    args.output.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
