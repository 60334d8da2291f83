"""Benchmark: what the schedule (lr, momentum, weight decay) costs per step, and a 1M-step preview.

    python scripts/bench_schedule.py [--steps N] [--repeats R] [--no-write]

1. Per optimizer step, in one process: a bare loop over the steps (the floor); optkit's
   `Scheduler.apply(step)` (cosine per iteration with a linear warmup, plus cyclic momentum
   variants writing SGD `momentum` and Adam `betas`, and a third key, a cosine weight decay)
   for 2, 8 and 150 param groups; and torch's
   `SequentialLR(LinearLR, CosineAnnealingLR).step()`, the usual torch way to write the same
   warmup + cosine. Reported: µs per step above the bare loop. Chunk refills (every 1024
   steps) are included, amortised.
2. Preview: computing a 1,000,000-step curve (lr and momentum of 8 groups) with
   `Schedule`, which is what `scripts/plot_lr.py` does, and the whole `optkit.plot_lr.curves`
   (compose aside; model on the meta device, optimizer, timeline, curves) once warm.

Every variant runs in interleaved rounds (A B C A B C ...) and the median is reported, so a
busy machine slows all of them alike. The script replaces its own section of
docs/benchmarks.md (between its marker comments) and leaves the rest.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from bench_doc import machine, markers, publish  # noqa: E402
from optkit.schedule import (CosineAnnealing, CyclicMomentum, PolicyCurve, Schedule, Scheduler, Timeline,  # noqa: E402
                             Warmup)

START, END = markers("bench_schedule")
WARMUP = 500
GROUPS = (2, 8, 150)
PREVIEW_STEPS = 1_000_000


def sgd(n_groups: int) -> torch.optim.SGD:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(n_groups)]
    return torch.optim.SGD([{"params": [p], "lr": 0.1 / (i + 1)} for i, p in enumerate(params)], lr=0.1,
                           momentum=0.9, weight_decay=1e-4)


def adam(n_groups: int) -> torch.optim.Adam:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(n_groups)]
    return torch.optim.Adam([{"params": [p], "lr": 1e-3 / (i + 1)} for i, p in enumerate(params)])


def optkit_loop(n_groups: int, steps: int, momentum: bool, make=sgd, weight_decay: bool = False) -> Callable[[], float]:
    timeline = Timeline(iters_per_epoch=1000, max_iters=steps)
    extra = (PolicyCurve("weight_decay", CosineAnnealing(by_epoch=False)),) if weight_decay else ()
    schedule = Schedule(CosineAnnealing(by_epoch=False), Warmup("linear", WARMUP, 0.01), timeline,
                        CyclicMomentum() if momentum else None, extra=extra)

    def run() -> float:
        scheduler = Scheduler(make(n_groups), schedule)
        apply = scheduler.apply
        start = time.perf_counter()
        for step in range(steps):
            apply(step)
        return time.perf_counter() - start

    return run


def torch_loop(n_groups: int, steps: int) -> Callable[[], float]:
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    warnings.filterwarnings("ignore", message="Detected call of")  # no optimizer.step here

    def run() -> float:
        optimizer = sgd(n_groups)
        scheduler = SequentialLR(optimizer, [LinearLR(optimizer, 0.01, 1.0, WARMUP),
                                             CosineAnnealingLR(optimizer, steps - WARMUP)], milestones=[WARMUP])
        step_fn = scheduler.step
        start = time.perf_counter()
        for _ in range(steps):
            step_fn()
        return time.perf_counter() - start

    return run


def bare_loop(steps: int) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            pass
        return time.perf_counter() - start

    return run


def interleaved(variants: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            times[name].append(run())
    return {name: statistics.median(values) for name, values in times.items()}


def preview_variants() -> dict[str, Callable[[], float]]:
    timeline = Timeline(iters_per_epoch=1000, max_iters=PREVIEW_STEPS)
    schedule = Schedule(CosineAnnealing(by_epoch=False), Warmup("linear", WARMUP, 0.01), timeline, CyclicMomentum())
    groups = sgd(8).param_groups
    bases = [g["lr"] for g in groups]

    def curves_only() -> float:
        start = time.perf_counter()
        steps = np.arange(PREVIEW_STEPS)
        schedule.lr(bases, steps)
        schedule.momentum(groups, steps)
        return time.perf_counter() - start

    from optkit.compose import compose
    from optkit.plot_lr import curves

    cfg = compose(["optimizer=sgd", "optimizer.momentum=0.9", "schedule=cosine", "schedule.by_epoch=false",
                   "warmup=linear", "warmup.iters=500", "momentum=cyclic", "paramwise.bias_lr_mult=2",
                   "paramwise.norm_decay_mult=0", "optimizer.weight_decay=1e-4", f"trainer.max_iters={PREVIEW_STEPS}"])
    curves(cfg)  # first call imports torch's optimizer machinery

    def whole_tool() -> float:
        start = time.perf_counter()
        curves(cfg)
        return time.perf_counter() - start

    return {"Schedule.lr + Schedule.momentum, 8 groups": curves_only,
            "optkit.plot_lr.curves (meta model, 3 groups, warm)": whole_tool}


def report(args: argparse.Namespace, per_step: dict[str, float], preview: dict[str, float]) -> str:
    lines = [
        START,
        "## Schedule: per-step cost and the 1M-step preview",
        "",
        f"Command: `python scripts/bench_schedule.py --steps {args.steps} --repeats {args.repeats}`; "
        f"torch {torch.__version__}, numpy {np.__version__}, {torch.get_num_threads()} torch thread(s), "
        f"Python {platform.python_version()}, {machine()}, {datetime.date.today().isoformat()}.",
        "",
        f"Per optimizer step over {args.steps} steps (median of {args.repeats} interleaved rounds), "
        "above a bare Python loop timed in the same rounds. optkit: cosine per iteration with a "
        f"{WARMUP}-step linear warmup, `Scheduler.apply(step)` (the third key: a cosine weight decay); torch: "
        "`SequentialLR(LinearLR, CosineAnnealingLR).step()` on the same groups. Targets: < 10 µs for 8 groups; "
        "≤ 1 µs for 8 groups and 2–3 scheduled keys (issue 17).",
        "",
        "| variant | groups | µs / step | vs torch SequentialLR |",
        "|---|---:|---:|---:|",
    ]
    bare = per_step["bare loop"]
    for n in GROUPS:
        torch_us = (per_step[f"torch {n}"] - bare) / args.steps * 1e6
        for name in (f"optkit {n}", f"optkit+momentum {n}", f"optkit+betas {n}", f"optkit+momentum+wd {n}",
                     f"torch {n}"):
            if name not in per_step:
                continue
            us = (per_step[name] - bare) / args.steps * 1e6
            label = {"optkit": "optkit lr", "optkit+momentum": "optkit lr + cyclic momentum (SGD)",
                     "optkit+betas": "optkit lr + cyclic momentum (Adam betas)",
                     "optkit+momentum+wd": "optkit lr + cyclic momentum + cosine weight_decay (SGD)",
                     "torch": "torch SequentialLR"}[name.rsplit(" ", 1)[0]]
            lines.append(f"| {label} | {n} | {us:.2f} | {us / torch_us:.2f}× |")
    lines += [
        f"| bare loop (floor, subtracted above) | – | {bare / args.steps * 1e6:.3f} | |",
        "",
        f"Preview of a {PREVIEW_STEPS:,}-step run (median of {args.repeats}). Target: < 1 s.",
        "",
        "| what | seconds |",
        "|---|---:|",
        *[f"| {name} | {seconds:.3f} |" for name, seconds in preview.items()],
        "",
        "Writing that preview's JSON (6M floats, ~130 MB) and PNG adds a few seconds, outside the target.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave docs/benchmarks.md")
    args = parser.parse_args()
    variants: dict[str, Callable[[], float]] = {"bare loop": bare_loop(args.steps)}
    for n in GROUPS:
        variants[f"optkit {n}"] = optkit_loop(n, args.steps, momentum=False)
        if n == 8:
            variants[f"optkit+momentum {n}"] = optkit_loop(n, args.steps, momentum=True)
            variants[f"optkit+betas {n}"] = optkit_loop(n, args.steps, momentum=True, make=adam)
            variants[f"optkit+momentum+wd {n}"] = optkit_loop(n, args.steps, momentum=True, weight_decay=True)
        variants[f"torch {n}"] = torch_loop(n, args.steps)
    per_step = interleaved(variants, args.repeats)
    preview = interleaved(preview_variants(), args.repeats)
    section = report(args, per_step, preview)
    publish("bench_schedule", section, write=not args.no_write)


if __name__ == "__main__":
    main()
