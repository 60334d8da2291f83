"""Benchmark: what clipping and accumulation cost per step, written to docs/benchmarks.md.

    python scripts/bench_clip.py [--device cpu|cuda] [--threads N] [--repeats R] [--no-write]

1. Clipping by total norm on a ViT-S/16-shaped parameter set (22M parameters, 152
   tensors) with random gradients: optkit's foreach `clip_grad_norm_` against the
   per-parameter loop (`foreach=False`), the norm alone (what logging `train/grad_norm`
   costs without clipping), and a fused AdamW step for scale. Also the "ride-along" idea
   from DESIGN.md: compute the norm, then hand the clip factor to the fused AdamW kernel as
   `optimizer.grad_scale` (it divides the gradients by it) instead of a separate multiply
   pass; its weights after one step are compared with clip-then-step.
2. Accumulation: time per micro-batch of optkit's GradStep with k=1 and k=4 at the same
   micro-batch size, against a bare forward/backward loop (the floor), on an MLP with no
   norm layers.

Every variant is timed in interleaved rounds (A B C A B C ...) and reported as the median,
so a busy machine slows all of them alike; the ratios are what to read. With `--device cuda`
the timings synchronise the device and the section names the GPU. The script replaces its
own section of docs/benchmarks.md (between its marker comments) and leaves the rest.
"""
from __future__ import annotations

import copy
import datetime
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from bench_doc import bench_args, machine, markers, publish  # noqa: E402
from optkit.grad import GradStep, Window  # noqa: E402
from optkit.models import MLP  # noqa: E402

START, END = markers("bench_clip")
MAX_NORM = 1.0


def vit_s16_shapes(depth: int = 12, dim: int = 384, mlp: int = 1536, classes: int = 1000) -> list[tuple[int, ...]]:
    """Parameter shapes of ViT-S/16 at 224² (timm vit_small_patch16_224): 22.05M, 152 tensors."""
    shapes: list[tuple[int, ...]] = [(dim, 3, 16, 16), (dim,), (1, 1, dim), (1, 197, dim)]
    for _ in range(depth):
        shapes += [(dim,), (dim,), (3 * dim, dim), (3 * dim,), (dim, dim), (dim,),
                   (dim,), (dim,), (mlp, dim), (mlp,), (dim, mlp), (dim,)]
    return shapes + [(dim,), (dim,), (classes, dim), (classes,)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(variants: dict[str, Callable[[], object]], device: torch.device, repeats: int,
                inner: int = 1) -> dict[str, float]:
    """Median seconds per call of each variant, timed in interleaved rounds after a warm-up."""
    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            sync(device)
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            sync(device)
            times[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(values) for name, values in times.items()}


def vit_params(device: torch.device, seed: int = 0) -> list[nn.Parameter]:
    """The ViT-S/16 parameters with random gradients (norm ≈ 4.7, so clipping to 1 acts)."""
    g = torch.Generator().manual_seed(seed)
    params = []
    for shape in vit_s16_shapes():
        p = nn.Parameter((torch.randn(shape, generator=g) * 0.02).to(device))
        p.grad = (torch.randn(shape, generator=g) * 1e-3).to(device)
        params.append(p)
    return params


def ride_along_step(params: list[nn.Parameter], optimizer: torch.optim.Optimizer) -> None:
    """Norm pass, then the clip factor divides the gradients inside the fused kernel."""
    norm = nn.utils.get_total_norm([p.grad for p in params], 2.0, foreach=True)
    optimizer.grad_scale = torch.clamp((norm + 1e-6) / MAX_NORM, min=1.0)
    optimizer.step()
    del optimizer.grad_scale


def clip_then_step(params: list[nn.Parameter], optimizer: torch.optim.Optimizer) -> None:
    nn.utils.clip_grad_norm_(params, MAX_NORM, foreach=True)
    optimizer.step()


def ride_along_difference(device: torch.device) -> tuple[float, bool]:
    """Max |Δw| after one AdamW step from identical states: ride-along vs clip-then-step."""
    results = []
    for fn in (clip_then_step, ride_along_step):
        params = vit_params(device)
        optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05, fused=True)
        fn(params, optimizer)
        results.append([p.detach() for p in params])
    diff = max((a - b).abs().max().item() for a, b in zip(*results))
    return diff, all(torch.equal(a, b) for a, b in zip(*results))


def bench_clip(device: torch.device, repeats: int) -> dict[str, float]:
    params = vit_params(device)
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05, fused=True)
    grads = [p.grad for p in params]
    variants = {
        "clip foreach (optkit)": lambda: nn.utils.clip_grad_norm_(params, MAX_NORM, foreach=True),
        "clip per-parameter loop": lambda: nn.utils.clip_grad_norm_(params, MAX_NORM, foreach=False),
        "norm only, foreach": lambda: nn.utils.get_total_norm(grads, 2.0, foreach=True),
        "fused AdamW step": optimizer.step,
        "clip foreach + fused AdamW": lambda: clip_then_step(params, optimizer),
        "norm + AdamW grad_scale (ride-along)": lambda: ride_along_step(params, optimizer),
    }
    return interleaved(variants, device, repeats, inner=5)


def bench_accumulation(device: torch.device, repeats: int, batch: int = 64) -> dict[str, float]:
    """Seconds per micro-batch; each timed call covers 4 micro-batches."""
    torch.manual_seed(0)
    model = MLP(in_shape=(3, 32, 32), num_classes=10, hidden=[1024, 1024], dropout=0.0).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(4 * batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (4 * batch,), device=device)
    parts = [torch.arange(i * batch, (i + 1) * batch, device=device) for i in range(4)]
    step = GradStep(model, optimizer, F.cross_entropy)
    clipped = GradStep(model, optimizer, F.cross_entropy, max_norm=MAX_NORM)
    bf16 = GradStep(model, optimizer, F.cross_entropy, max_norm=MAX_NORM,
                    autocast=lambda: torch.autocast(device.type, dtype=torch.bfloat16))

    def bare(accumulate: bool) -> Callable[[], None]:
        """Forward/backward only: into the same gradients (k=4's floor) or fresh ones (k=1's)."""

        def fn() -> None:
            for index in parts:
                F.cross_entropy(model(x[index]), y[index]).backward()
                if not accumulate:
                    optimizer.zero_grad(set_to_none=True)
            optimizer.zero_grad(set_to_none=True)

        return fn

    def k1() -> None:
        for index in parts:
            step(Window((index,), (1.0,), 0), lambda i: (x[i], y[i]))

    def k4(grad_step: GradStep) -> Callable[[], None]:
        return lambda: grad_step(Window(tuple(parts), (0.25,) * 4, 0), lambda i: (x[i], y[i]))

    solo = copy.deepcopy(model)  # an optimizer step alone, on gradients that stay in place
    F.cross_entropy(solo(x[parts[0]]), y[parts[0]]).backward()
    solo_step = torch.optim.SGD(solo.parameters(), lr=0.01, momentum=0.9).step

    def steps() -> None:
        for _ in parts:
            solo_step()

    variants = {"forward+backward, fresh grads": bare(False), "forward+backward, accumulated grads": bare(True),
                "optimizer step only": steps, "GradStep k=1": k1, "GradStep k=4": k4(step),
                "GradStep k=4, clip": k4(clipped), "GradStep k=4, clip, bf16 autocast": k4(bf16)}
    if device.type == "cuda":
        fp16 = GradStep(model, optimizer, F.cross_entropy, max_norm=MAX_NORM, scaler=torch.amp.GradScaler("cuda"),
                        autocast=lambda: torch.autocast("cuda", dtype=torch.float16))
        variants["GradStep k=4, clip, fp16 autocast + GradScaler"] = k4(fp16)
    times = interleaved(variants, device, repeats)
    return {name: t / 4 for name, t in times.items()}


def report(device: torch.device, threads: int, repeats: int, clip: dict[str, float], accum: dict[str, float],
           ride: tuple[float, bool]) -> str:
    n_params = sum(torch.Size(s).numel() for s in vit_s16_shapes())
    adamw = clip["fused AdamW step"]
    lines = [
        START,
        "## Clipping and accumulation (`scripts/bench_clip.py`)",
        "",
        f"Command: `python scripts/bench_clip.py --device {device.type} --threads {threads} --repeats {repeats}`; "
        f"torch {torch.__version__}, {threads} thread(s), {machine(device)}, "
        f"{datetime.date.today().isoformat()}. Medians of interleaved rounds.",
        "",
        f"Clipping by total norm (p=2) on the ViT-S/16 parameter set ({n_params / 1e6:.1f}M parameters, "
        f"{len(vit_s16_shapes())} tensors), per step:",
        "",
        "| variant | ms | × fused AdamW step |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {t * 1e3:.2f} | {t / adamw:.2f} |" for name, t in clip.items()]
    speedup = clip["clip per-parameter loop"] / clip["clip foreach (optkit)"]
    ride_gain = clip["clip foreach + fused AdamW"] / clip["norm + AdamW grad_scale (ride-along)"]
    lines += [
        "",
        f"foreach vs per-parameter loop: {speedup:.2f}×. Ride-along (clip factor as the fused kernel's "
        f"`grad_scale`) vs clip-then-step: {ride_gain:.2f}× per step; weights after one step "
        f"{'bitwise equal' if ride[1] else f'differ by up to {ride[0]:.1e} (not bitwise equal)'}.",
        "",
        "Accumulation, per micro-batch of 64 (MLP 3072→1024→1024→10, SGD momentum; \"optimizer step "
        "only\" is one step; accumulating into existing gradients is part of autograd's backward):",
        "",
        "| variant | ms per micro-batch |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {t * 1e3:.3f} |" for name, t in accum.items()]
    opt = accum["optimizer step only"]
    over1 = accum["GradStep k=1"] - accum["forward+backward, fresh grads"] - opt
    over4 = accum["GradStep k=4"] - accum["forward+backward, accumulated grads"] - opt / 4
    lines += [
        "",
        "GradStep's own cost per micro-batch beyond its forward+backward and its share of the "
        f"optimizer step: k=4 {over4 * 1e3:+.3f} ms, k=1 {over1 * 1e3:+.3f} ms "
        f"({over4 / accum['GradStep k=4']:+.1%} and {over1 / accum['GradStep k=1']:+.1%} of the micro-batch; "
        "a negative value means the difference is below the timing noise).",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    args, device = bench_args(__doc__.splitlines()[0])
    clip = bench_clip(device, args.repeats)
    accum = bench_accumulation(device, args.repeats)
    section = report(device, args.threads, args.repeats, clip, accum, ride_along_difference(device))
    publish("bench_clip", section, write=not args.no_write)


if __name__ == "__main__":
    main()
