"""Optimizer step time: optkit's merged param groups vs one plain group vs one group per
parameter (what MMCV / MMEngine build), against the memory-bandwidth lower bound.

    python scripts/bench_optimizer_step.py [--threads 1] [--device cpu|cuda] [--repeats 9] [--no-write]

The parameter set is ViT-S/16 (optkit's ViT at embed 384, depth 12, 6 heads, mlp 4×, 224²
input, 1000 classes: 22.1M parameters in 152 tensors) with the usual no-decay rules (biases,
norm layers, cls token and position embedding: `no_decay_bias_norm` plus the tutorial's
token keys), which optkit merges into 2 groups and MMCV splits into 152. Every variant
steps the same parameters and gradients; the variants are timed in interleaved rounds (each
round times every variant once, in rotating order) and the median is reported, so slow
drift of a shared machine hits all variants alike. Ratios are taken within one run.

The lower bound is the bytes a step must move (AdamW reads param, grad, exp_avg,
exp_avg_sq and writes three of them back: 7 × 4 bytes per element; SGD with momentum 5 × 4)
divided by the memory bandwidth measured in the same rounds with in-place ops over arrays
of the same size, which move memory the way an optimizer does (`a.mul_(s)`: read and write
a; `a.add_(b)`: read a and b, write a; the faster one counts). Out-of-place probes such as
a copy would also pay for reading the destination before writing it and undercount the
bandwidth. The result replaces this script's section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from bench_doc import machine, markers, publish  # noqa: E402
from optkit.models import ViT  # noqa: E402
from optkit.optim import build_param_groups  # noqa: E402

START, END = markers("bench_optimizer_step")
PARAMWISE = {"bias_decay_mult": 0.0, "norm_decay_mult": 0.0,
             "custom_keys": {"backbone.cls_token": {"decay_mult": 0.0}, "backbone.pos_embed": {"decay_mult": 0.0}}}
OPTIMIZERS = {  # name: (class, kwargs, bytes moved per element by one step)
    "AdamW": (torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 0.05}, 7 * 4),
    "SGD": (torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-4}, 5 * 4),
}
KERNELS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
GROUPINGS = ("single", "merged", "per-param")


def vit_s16(device: torch.device) -> torch.nn.Module:
    model = ViT(in_shape=(3, 224, 224), num_classes=1000, patch_size=16, embed_dim=384, depth=12, num_heads=6,
                mlp_ratio=4.0, dropout=0.0).to(device)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    return model


def groupings(model: torch.nn.Module, lr: float, weight_decay: float) -> dict[str, list[dict]]:
    merged = build_param_groups(model, lr=lr, weight_decay=weight_decay, paramwise=PARAMWISE)
    return {
        "single": [{"params": list(model.parameters())}],
        "merged": merged,
        "per-param": [{"params": [p], "lr": g["lr"], "weight_decay": g["weight_decay"]}
                      for g in merged for p in g["params"]],
    }


def timer(device: torch.device) -> Callable[[Callable[[], None], int], float]:
    def run(fn: Callable[[], None], n: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - start) / n

    return run


def bandwidth_probes(elements: int, device: torch.device) -> dict[str, tuple[Callable[[], None], int]]:
    """In-place scale and add over `elements` floats, with the bytes each moves."""
    a, b = (torch.randn(elements, device=device) for _ in range(2))
    return {"scale": (lambda: a.mul_(1.0), 2 * 4 * elements), "add": (lambda: a.add_(b, alpha=1e-9), 3 * 4 * elements)}


def interleaved(variants: dict[str, Callable[[], None]], run: Callable, repeats: int, steps: int) -> dict[str, float]:
    for fn in variants.values():  # warm-up: state allocation, first-touch, kernels
        run(fn, 2)
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(run(variants[name], steps))
    return {name: statistics.median(values) for name, values in times.items()}


def measure(optimizer_name: str, model: torch.nn.Module, device: torch.device, repeats: int,
            steps: int) -> tuple[dict[tuple[str, str], float], float]:
    cls, kwargs, bytes_per_element = OPTIMIZERS[optimizer_name]
    groups = groupings(model, kwargs["lr"], kwargs["weight_decay"])
    variants: dict[str, Callable[[], None]] = {}
    for kernel, flags in KERNELS.items():
        for grouping in GROUPINGS:
            optimizer = cls([dict(g) for g in groups[grouping]], **kwargs, **flags)
            variants[f"{kernel}|{grouping}"] = optimizer.step
    elements = sum(p.numel() for p in model.parameters())
    probes = bandwidth_probes(elements, device)
    variants.update({f"probe|{name}": fn for name, (fn, _) in probes.items()})
    medians = interleaved(variants, timer(device), repeats, steps)
    bandwidth = max(nbytes / medians[f"probe|{name}"] for name, (_, nbytes) in probes.items())
    results = {tuple(key.split("|")): value for key, value in medians.items() if not key.startswith("probe|")}
    return results, elements * bytes_per_element / bandwidth


def report(rows: list[tuple[str, str, dict, float]], model: torch.nn.Module, device: torch.device,
           command: str) -> str:
    n_params = sum(p.numel() for p in model.parameters())
    n_tensors = len(list(model.parameters()))
    n_merged = len(groupings(model, 1e-3, 0.05)["merged"])
    lines = [
        START,
        "## Optimizer step: merged param groups (`scripts/bench_optimizer_step.py`)",
        "",
        f"`{command}` — torch {torch.__version__}, {device.type}: {machine(device)}, {torch.get_num_threads()} thread(s), "
        f"{datetime.date.today().isoformat()}.",
        "",
        f"ViT-S/16 parameter set ({n_params / 1e6:.1f}M parameters, {n_tensors} tensors), no weight decay on "
        f"biases, norms and tokens: optkit merges it into {n_merged} groups, MMCV/MMEngine build {n_tensors}. "
        "Median step time (ms) over interleaved rounds; *bound* = bytes the step must move / measured "
        "memory bandwidth.",
        "",
        "| optimizer | kernel | single group | optkit merged | per parameter | merged / single "
        "| per-param / merged | bound | merged / bound |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for optimizer_name, kernel, t, bound in rows:
        lines.append(
            f"| {optimizer_name} | {kernel} | {t['single'] * 1e3:.2f} | {t['merged'] * 1e3:.2f} | "
            f"{t['per-param'] * 1e3:.2f} | {t['merged'] / t['single']:.2f}× | {t['per-param'] / t['merged']:.2f}× | "
            f"{bound * 1e3:.2f} | {t['merged'] / bound:.2f}× |")
    worst = max(t["merged"] / t["single"] for _, _, t, _ in rows)
    lines += ["", f"Target: merged within 1.1× of one plain group — worst here {worst:.2f}×.", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU); DESIGN.md's numbers use 1")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds; the median is reported")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per timed block")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = vit_s16(device)
    rows = []
    for optimizer_name in OPTIMIZERS:
        results, bound = measure(optimizer_name, model, device, args.repeats, args.steps)
        for kernel in KERNELS:
            times = {grouping: results[(kernel, grouping)] for grouping in GROUPINGS}
            rows.append((optimizer_name, kernel, times, bound))
    command = "python scripts/bench_optimizer_step.py " + " ".join(sys.argv[1:])
    section = report(rows, model, device, command.strip())
    publish("bench_optimizer_step", section, write=not args.no_write)


if __name__ == "__main__":
    main()
