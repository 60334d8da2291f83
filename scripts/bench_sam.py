"""Benchmark: what SAM costs per optimizer step, side by side with its base optimizer's step.

    python scripts/bench_sam.py [--device cpu|cuda] [--threads N] [--repeats R] [--no-write]

`optimizer=sam` runs the step's micro-batches twice (forward and backward at w, then at
w + e), copies the weights once and makes a few foreach passes for the perturbation
(`optkit.multipass.SAMStep`), so it should cost a little over twice its base optimizer's
step. Timed here: one optimizer step (batch 64, clipping by norm, the non-finite check on,
as `python train.py grad=clip` runs it) of the plain GradStep with the base optimizer
and of SAMStep around the same optimizer (ρ = 0.05; ASAM adds two elementwise products),
for fused SGD with momentum and fused AdamW, on the digits MLP (per-call overhead
dominates), a wider MLP and the digits CNN (with BatchNorm: its statistics are saved and
put back around the second pass).

Variants are timed in interleaved rounds and reported as medians (bench_clip.py's
`interleaved`); the script replaces its own section of docs/benchmarks.md.
"""
from __future__ import annotations

import datetime
import functools
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from bench_clip import interleaved  # noqa: E402
from bench_doc import bench_args, machine, markers, publish  # noqa: E402
from optkit.grad import GradStep, Window  # noqa: E402
from optkit.models import MLP, SmallCNN  # noqa: E402
from optkit.multipass import SAMStep  # noqa: E402
from optkit.optim import SAM  # noqa: E402

START, END = markers("bench_sam")
MODELS = {  # name: (input shape, factory)
    "MLP 64→256→256→10 (digits)": ((1, 8, 8), functools.partial(MLP, hidden=[256, 256], dropout=0.0)),
    "MLP 3072→1024→1024→10": ((3, 32, 32), functools.partial(MLP, hidden=[1024, 1024], dropout=0.0)),
    "CNN (digits, BatchNorm)": ((1, 8, 8), functools.partial(SmallCNN, channels=[32, 64], dropout=0.0)),
}
BASES = {
    "SGD momentum, fused": functools.partial(torch.optim.SGD, lr=1e-3, momentum=0.9, fused=True),
    "AdamW, fused": functools.partial(torch.optim.AdamW, lr=1e-3, fused=True),
}
BATCH = 64
MAX_NORM = 1.0


def bench_model(in_shape: tuple[int, ...], factory, device: torch.device, repeats: int) -> dict[str, float]:
    """Seconds per optimizer step of each (base, plain | SAM | ASAM) variant."""
    torch.manual_seed(0)
    model = factory(in_shape=in_shape, num_classes=10).to(device)
    x = torch.randn(BATCH, *in_shape, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    window = Window((torch.arange(BATCH, device=device),), (1.0,), 0)
    variants = {}
    for name, base in BASES.items():
        steps = {
            "plain": GradStep(model, base(model.parameters()), F.cross_entropy, max_norm=MAX_NORM),
            "SAM": SAMStep(model, SAM(model.parameters(), base=base), F.cross_entropy, max_norm=MAX_NORM),
            "ASAM": SAMStep(model, SAM(model.parameters(), base=base, rho=0.5, adaptive=True), F.cross_entropy,
                            max_norm=MAX_NORM),
        }
        for kind, step in steps.items():
            variants[f"{name}|{kind}"] = (lambda s: lambda: s(window, lambda i: (x[i], y[i])))(step)
    return interleaved(variants, device, repeats, inner=10)


def report(device: torch.device, threads: int, repeats: int, results: dict[str, dict[str, float]]) -> str:
    lines = [
        START,
        "## SAM (`scripts/bench_sam.py`)",
        "",
        f"Command: `python scripts/bench_sam.py --device {device.type} --threads {threads} --repeats {repeats}`; "
        f"torch {torch.__version__}, {threads} thread(s), {machine(device)}, {datetime.date.today().isoformat()}; "
        "the machine was shared with other jobs, so only the side-by-side ratios mean much. One optimizer step "
        f"(batch {BATCH}, clip by norm, non-finite check on): the base optimizer's plain step, and SAMStep around "
        "the same optimizer; medians of interleaved rounds.",
        "",
        "| model | base optimizer | ms, base step | ms, SAM | SAM / base | ms, ASAM | ASAM / base |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for model, times in results.items():
        for base in BASES:
            plain, sam, asam = (times[f"{base}|{kind}"] for kind in ("plain", "SAM", "ASAM"))
            lines.append(f"| {model} | {base} | {plain * 1e3:.3f} | {sam * 1e3:.3f} | {sam / plain:.2f}× | "
                         f"{asam * 1e3:.3f} | {asam / plain:.2f}× |")
    lines += [
        "",
        "SAM's two forward/backward passes set the floor at 2×; above it are the weight copy, the perturbation's "
        "foreach passes (norm, scale, add; ASAM two more products) and the restore, which weigh most where "
        "per-call overhead dominates (the small MLP).",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    args, device = bench_args(__doc__.splitlines()[0], repeats=15)
    results = {name: bench_model(shape, factory, device, args.repeats) for name, (shape, factory) in MODELS.items()}
    publish("bench_sam", report(device, args.threads, args.repeats, results), write=not args.no_write)


if __name__ == "__main__":
    main()
