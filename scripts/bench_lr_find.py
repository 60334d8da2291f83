"""Benchmark: the lr range test's wall time, and what it costs beyond the training steps it runs.

    python scripts/bench_lr_find.py [--device cpu|cuda] [--threads N] [--iters 100] [--repeats 7] [--no-write]

On digits (batch 64, AdamW, `logging.log_every=10`) with model=mlp and model=cnn, components
built once per model in this process:

1. floor: `iters` optimizer steps as the training loop takes them (`Scheduler.apply`, `GradStep`,
   the loss kept on the device and read every `log_every` steps);
2. `optkit.lr_find.range_test` over the same steps, timed as a whole call: the state snapshot,
   the lr writes, the reads every `log_every` steps, smoothing and the stop rule, the restore.
   The ramp ends at 1e-2, so that the test never stops early and runs all `iters` steps;
3. `find_lr` as the tool calls it: validate, build data, model and optimizer, then the test;
4. the whole command, `python scripts/lr_find.py model=... num_iters=...` in a fresh process
   (imports, composition, PNG), fewer repeats.

1–3 run in interleaved rounds (A B C A B C ...) and the medians are reported, so a busy
machine slows all of them alike. The script replaces its own section of docs/benchmarks.md
(between its marker comments) and leaves the rest.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from bench_doc import machine, markers, publish  # noqa: E402
from bench_schedule import interleaved  # noqa: E402
from optkit import distributed  # noqa: E402
from optkit.lr_find import RangeTest, find_lr, group_ratios, range_test, restored, training_windows  # noqa: E402
from optkit.compose import compose  # noqa: E402
from optkit.schedule import Scheduler  # noqa: E402
from optkit.train import build_components, build_grad_step, pick_device  # noqa: E402

START, END = markers("bench_lr_find")
MODELS = ("mlp", "cnn")


def overrides(model: str, device: str) -> list[str]:
    return [f"model={model}", f"trainer.device={device}", "logging.log_every=10"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def variants(model: str, device_name: str, settings: RangeTest) -> dict[str, Callable[[], float]]:
    cfg = compose(overrides(model, device_name))
    info = distributed.DistInfo()
    device = pick_device(cfg.trainer.device, info)
    built = build_components(cfg, info, device)
    grad_step = build_grad_step(cfg, built.model, built.optimizer, built.scaler, built.autocast)
    ratios = group_ratios(built.optimizer.param_groups, cfg.optimizer.lr)
    scheduler = Scheduler(built.optimizer, built.schedule)
    log_every, n = cfg.logging.log_every, settings.num_iters

    def windows():
        return training_windows(built.windows, built.data, cfg.trainer.seed, cfg.data.shuffle, 0, n)

    def floor() -> float:
        with restored(built.model, built.optimizer):  # every round starts from the same weights
            losses = []
            sync(device)
            start = time.perf_counter()
            for i, window in zip(range(n), windows()):
                scheduler.apply(i)
                losses.append(grad_step(window, built.data.train_batch).loss)
                if (i + 1) % log_every == 0:
                    torch.stack(losses).mean().item()
                    losses.clear()
            sync(device)
            return time.perf_counter() - start

    def test() -> float:
        sync(device)
        start = time.perf_counter()
        curve = range_test(built.model, grad_step, windows(), built.data.train_batch, settings, ratios, log_every)
        seconds = time.perf_counter() - start
        assert len(curve.lr) == n, "the test stopped early: lower the ramp's end"
        return seconds

    def tool() -> float:
        start = time.perf_counter()
        find_lr(cfg, settings)
        return time.perf_counter() - start

    floor(), test()  # warm-up: kernels, allocator, fused optimizer state
    return {f"{model} floor": floor, f"{model} range_test": test, f"{model} find_lr": tool}


def command(model: str, device: str, iters: int, repeats: int, threads: Optional[int]) -> float:
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "scripts" / "lr_find.py"), *overrides(model, device),
                        f"num_iters={iters}", "out=/dev/null"], check=True, capture_output=True,
                       cwd=REPO, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(args: argparse.Namespace, times: dict[str, float], commands: dict[str, float], where: str) -> str:
    lines = [
        START,
        "## lr range test (`scripts/bench_lr_find.py`)",
        "",
        f"Command: `python scripts/bench_lr_find.py --device {args.device}"
        f"{f' --threads {args.threads}' if args.threads else ''} --iters {args.iters} "
        f"--repeats {args.repeats}`; torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), "
        f"{where}, {datetime.date.today().isoformat()}. Digits, batch 64, AdamW, `logging.log_every=10`; "
        f"medians of {args.repeats} interleaved rounds (the command: of {args.command_repeats} runs).",
        "",
        f"*floor*: the same {args.iters} optimizer steps as the training loop takes them (schedule write, "
        "GradStep, loss read every 10 steps). *range test*: the whole `range_test` call (state snapshot and "
        "restore included). *find_lr*: validate, build data/model/optimizer, test. *command*: "
        "`python scripts/lr_find.py ...` in a fresh process (imports, composition, PNG).",
        "",
        f"| model | floor, {args.iters} steps (s) | range test (s) | range test / floor | find_lr (s) | command (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for model in MODELS:
        floor, test = times[f"{model} floor"], times[f"{model} range_test"]
        lines.append(f"| {model} | {floor:.3f} | {test:.3f} | {test / floor:.2f}× | {times[f'{model} find_lr']:.3f} "
                     f"| {commands[model]:.2f} |")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--command-repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave docs/benchmarks.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = RangeTest(num_iters=args.iters, min_lr=1e-6, max_lr=1e-2)
    runs: dict[str, Callable[[], float]] = {}
    for model in MODELS:
        runs.update(variants(model, args.device, settings))
    times = interleaved(runs, args.repeats)
    commands = {model: command(model, args.device, args.iters, args.command_repeats, args.threads)
                for model in MODELS}
    section = report(args, times, commands, machine(torch.device(args.device)))
    publish("bench_lr_find", section, write=not args.no_write)


if __name__ == "__main__":
    main()
