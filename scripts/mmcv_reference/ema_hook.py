"""EMA weights from MMCV 1.7.2's EMAHook on a recorded weight sequence, for
`tests/test_averaging_ema.py` (optkit's `ema=mmcv`).

Runs in the throw-away MMCV virtualenv (see ../shared/MMCV_SEMANTICS.md), never in
optkit's own environment:

    /tmp/mmcv-venv/bin/python scripts/mmcv_reference/ema_hook.py -o tests/fixtures/mmcv_ema_hook.json

The model is Linear(3, 4) → BatchNorm1d(4) → Linear(4, 2) in float64. Before each iteration
its parameters and BatchNorm statistics are set to the next entry of a seeded random walk
(the "training"), then the hook's `after_train_iter` runs and the runner's `iter` advances,
as in EpochBasedRunner. Recorded: the weight sequence and, after every iteration, the
hook's EMA of every parameter (its `ema_*` buffers). Epoch-end swaps are not driven: they
only exchange the EMA with the model for MMCV's evaluation, which optkit evaluates directly.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
from mmcv.runner.hooks import EMAHook
from torch import nn

ITERS = 12
CASES = [  # (name, momentum, interval, warm_up)
    ("default", 0.0002, 1, 100),  # MMCV's defaults: the warm-up term decides every step here
    ("fast", 0.3, 1, 4),  # the warm-up term is smaller than the momentum only at the start
    ("interval3", 0.5, 3, 2),  # momentum**interval; updates on iterations 0, 3, 6, 9
]


class FakeRunner:
    """What EMAHook reads: the model and the iteration counter."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.iter = 0
        self.logger = logging.getLogger("fake-runner")


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def weight_sequence(net: nn.Module) -> list[dict[str, list]]:
    """ITERS states (parameters and float buffers) of a seeded random walk from `net`'s."""
    g = torch.Generator().manual_seed(1)
    state = {k: v.clone() for k, v in net.state_dict().items() if v.is_floating_point()}
    steps = []
    for _ in range(ITERS):
        state = {k: v + 0.1 * torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in state.items()}
        steps.append({k: v.tolist() for k, v in state.items()})
    return steps


def run_case(momentum: float, interval: int, warm_up: int, steps: list[dict[str, list]]) -> dict:
    net = model()
    initial = {name: p.detach().clone().tolist() for name, p in net.named_parameters()}
    hook = EMAHook(momentum=momentum, interval=interval, warm_up=warm_up)
    runner = FakeRunner(net)
    hook.before_run(runner)
    buffers = dict(net.named_buffers())
    ema = []
    for state in steps:
        with torch.no_grad():
            for name, value in state.items():
                target = dict(net.named_parameters()).get(name, buffers.get(name))
                target.copy_(torch.tensor(value, dtype=torch.float64))
        hook.after_train_iter(runner)
        runner.iter += 1
        ema.append({name: buffers[buf].tolist() for name, buf in hook.param_ema_buffer.items()})
    return {"momentum": momentum, "interval": interval, "warm_up": warm_up, "initial": initial, "ema": ema}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("tests/fixtures/mmcv_ema_hook.json"))
    args = parser.parse_args()
    steps = weight_sequence(model())
    cases = {name: run_case(m, i, w, steps) for name, m, i, w in CASES}
    args.output.write_text(json.dumps({"mmcv": "1.7.2", "weights": steps, "cases": cases}) + "\n")
    print(f"wrote {args.output}: {len(cases)} cases, {ITERS} iterations")


if __name__ == "__main__":
    main()
