"""Benchmark: what the non-finite check (`trainer.nonfinite`) costs per optimizer step.

    python scripts/bench_nonfinite.py [--device cpu|cuda] [--threads N] [--repeats R] [--no-write]

GradStep checks every step before `optimizer.step`: the loss, and the gradients through
their total norm, read on the host in one go (`loss + norm`). With clipping by norm the norm is there
anyway and the check is the host read alone; without clipping it adds one foreach norm
pass over the gradients. Timed here: one optimizer step (forward, backward, step) of
GradStep with the check and without it (`check_finite=False`, which users cannot select),
with and without clipping, on a tiny MLP (the digits default's size, where per-call
overhead dominates) and a wider one (bench_clip.py's). On CUDA the host read is a device
synchronisation once per step, which this measures with `--device cuda`.

Variants are timed in interleaved rounds and reported as medians (bench_clip.py's
`interleaved`); the script replaces its own section of docs/benchmarks.md.
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from bench_clip import interleaved  # noqa: E402
from bench_doc import bench_args, machine, markers, publish  # noqa: E402
from optkit.grad import GradStep, Window  # noqa: E402
from optkit.models import MLP  # noqa: E402

START, END = markers("bench_nonfinite")
MODELS = {  # name: (input shape, hidden widths)
    "MLP 64→256→256→10 (digits)": ((1, 8, 8), [256, 256]),
    "MLP 3072→1024→1024→10": ((3, 32, 32), [1024, 1024]),
}
BATCH = 64


def bench_model(in_shape: tuple[int, ...], hidden: list[int], device: torch.device, repeats: int) -> dict[str, float]:
    """Seconds per optimizer step of each variant (one micro-batch of 64, fused SGD momentum)."""
    torch.manual_seed(0)
    model = MLP(in_shape=in_shape, num_classes=10, hidden=hidden, dropout=0.0).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, fused=True)
    x = torch.randn(BATCH, *in_shape, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    window = Window((torch.arange(BATCH, device=device),), (1.0,), 0)
    variants = {}
    for clip in (None, 1.0):
        for check in (False, True):
            step = GradStep(model, optimizer, F.cross_entropy, max_norm=clip, check_finite=check)
            name = f"{'clip' if clip else 'no clip'}, check {'on' if check else 'off'}"
            variants[name] = (lambda s: lambda: s(window, lambda i: (x[i], y[i])))(step)
    return interleaved(variants, device, repeats, inner=20)


def report(device: torch.device, threads: int, repeats: int, results: dict[str, dict[str, float]]) -> str:
    lines = [
        START,
        "## Non-finite check (`scripts/bench_nonfinite.py`)",
        "",
        f"Command: `python scripts/bench_nonfinite.py --device {device.type} --threads {threads} --repeats {repeats}`; "
        f"torch {torch.__version__}, {threads} thread(s), {machine(device)}, {datetime.date.today().isoformat()}. "
        "One GradStep (forward, backward, fused SGD step) on a batch of 64; medians of interleaved rounds.",
        "",
        "| model | clipping | ms, check off | ms, check on | overhead |",
        "|---|---|---:|---:|---:|",
    ]
    for model, times in results.items():
        for clip in ("no clip", "clip"):
            off, on = times[f"{clip}, check off"], times[f"{clip}, check on"]
            lines.append(f"| {model} | {clip} | {off * 1e3:.3f} | {on * 1e3:.3f} | {(on - off) * 1e3:+.3f} ms "
                         f"({on / off - 1:+.1%}) |")
    lines += [
        "",
        "Without clipping the check adds a foreach norm pass over the gradients; with clipping by norm only "
        "one addition and the host read of `loss + norm`. A negative overhead means the difference is below "
        "the timing noise. On CUDA that read is one device synchronisation per step.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    args, device = bench_args(__doc__.splitlines()[0])
    results = {name: bench_model(shape, hidden, device, args.repeats) for name, (shape, hidden) in MODELS.items()}
    section = report(device, args.threads, args.repeats, results)
    publish("bench_nonfinite", section, write=not args.no_write)


if __name__ == "__main__":
    main()
