"""Benchmark: the data paths on a generated image folder.

    python scripts/bench_data.py [--images N] [--workers W] [--repeats R] [--threads T] [--no-write]

Writes N 32×32 JPEGs (10 classes, plus N/5 for validation) into a temporary
`train/<class>/`, `val/<class>/` folder, then measures, interleaved over R rounds (median
seconds per epoch):

* optkit's streaming path (`data=image_folder`, W DataLoader workers decoding with Pillow,
  random resized crop + flip + normalise per image, the per-sample seeding) training
  SmallCNN for one epoch through `optkit.loop.fit`;
* a hand-written PyTorch loop doing the same work: the same `ImageFolder` transforms in a
  plain `DataLoader(shuffle=True)` with the same W workers, the same model, optimizer and
  lr schedule, the loss read back as often;
* `data.cache=true`: the epoch from memory (after its one-time decode, timed separately).

Then `trainer.compile` (torch.compile, inductor): ms per step after warm-up and the
compile time, on the default run (SmallCNN on digits) and on ResNet-20 (32×32×3, batch 32).
The script replaces its own section of docs/benchmarks.md (between its marker comments).
"""
from __future__ import annotations

import contextlib
import datetime
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_doc import bench_args, load_average, machine, markers, publish  # noqa: E402
from optkit import distributed  # noqa: E402
from optkit.compose import compose  # noqa: E402
from optkit.data.image_folder import ImageFolder, list_images  # noqa: E402
from optkit.logging import RunLogger  # noqa: E402
from optkit.loop import Progress, Run, fit  # noqa: E402
from optkit.schedule import Scheduler  # noqa: E402
from optkit.train import build_components, build_grad_step  # noqa: E402

BATCH = 64
LOG_EVERY = 10
COMMON = ["model=cnn", "optimizer=adamw", "schedule=cosine", "schedule.by_epoch=false", f"data.batch_size={BATCH}",
          f"logging.log_every={LOG_EVERY}", "logging.progress=false", "trainer.device=cpu", "trainer.max_epochs=1"]


def write_images(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", n), ("val", n // 5)):
        for i in range(count):
            label = i % 10
            folder = root / split / f"c{label}"
            folder.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) // 2 + np.uint8(label * 12)
            Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)


def build(overrides: list[str]):
    cfg = compose([*COMMON, *overrides])
    return cfg, build_components(cfg, distributed.DistInfo(), torch.device("cpu"))


def optkit_epoch(overrides: list[str]) -> Callable[[], float]:
    """One epoch of `fit` on freshly built objects (the loader's workers start inside)."""
    def measure() -> float:
        cfg, built = build(overrides)
        with tempfile.TemporaryDirectory() as tmp:
            logger = RunLogger(Path(tmp), enabled=True, tensorboard=False, progress=False,
                               total_steps=built.windows.max_steps, initial_step=0)
            run = Run(model=built.model, data=built.data,
                      grad_step=build_grad_step(cfg, built.model, built.optimizer, built.scaler, built.autocast),
                      scheduler=Scheduler(built.optimizer, built.schedule), windows=built.windows, logger=logger,
                      dist=distributed.DistInfo(), val_batch_size=512, shuffle=True, seed=0, log_every=LOG_EVERY,
                      eval_every=1000, ckpt_every=1000, ckpt_by_epoch=True, autocast=built.autocast,
                      checkpoint=lambda *a, **k: None, group_names=built.group_names)
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                fit(run, Progress())
            elapsed = time.perf_counter() - start
            logger.close()
        return elapsed
    return measure


def raw_epoch(root: Path, workers: int) -> Callable[[], float]:
    """The same epoch written by hand around a plain DataLoader."""
    def measure() -> float:
        cfg, built = build(["data=image_folder", f"data.root={root}", "data.size=32", f"data.num_workers={workers}"])
        classes, samples = list_images(str(root))
        mean, std = list(cfg.data.mean), list(cfg.data.std)
        train = ImageFolder(samples["train"], classes, 32, 37, mean, std, train=True)
        val = ImageFolder(samples["val"], classes, 32, 37, mean, std, train=False)
        model, optimizer = built.model, built.optimizer
        steps = built.windows.max_steps
        bases = [group["lr"] for group in optimizer.param_groups]
        start = time.perf_counter()
        loader = torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True, num_workers=workers,
                                             persistent_workers=workers > 0, prefetch_factor=2 if workers else None)
        model.train()
        for step, (x, y) in enumerate(loader):
            for group, base in zip(optimizer.param_groups, bases):
                group["lr"] = base * 0.5 * (1 + np.cos(np.pi * step / steps))
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if (step + 1) % LOG_EVERY == 0:
                loss.item()
        model.eval()
        with torch.no_grad():
            for x, y in torch.utils.data.DataLoader(val, batch_size=512, num_workers=workers):
                logits = model(x)
                F.cross_entropy(logits, y, reduction="sum").item()
                (logits.argmax(1) == y).sum().item()
        return time.perf_counter() - start
    return measure


def compiled_steps(overrides: list[str], steps: int) -> dict[str, float]:
    """ms per step (after 3 warm-up steps) eager and compiled, and the first compiled step's seconds."""
    out = {}
    for name in ("eager", "compiled"):
        cfg, built = build([*overrides, f"trainer.max_iters={steps + 3}"])
        if name == "compiled":
            built.model.compile()
        grad_step = build_grad_step(cfg, built.model, built.optimizer, built.scaler, built.autocast)
        windows = built.windows.epoch(0, lambda e: torch.randperm(len(built.data.train)))
        times = []
        for window in windows[:steps + 3]:
            start = time.perf_counter()
            grad_step(window, built.train_batch)
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times[3:]) * 1e3
        if name == "compiled":
            out["compile_s"] = times[0]
    return out


def main() -> None:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--images", type=int, default=5000)
    extra.add_argument("--workers", type=int, default=2)
    extra.add_argument("--no-compile", action="store_true", help="leave out the trainer.compile table")
    known, rest = extra.parse_known_args()
    sys.argv[1:] = rest
    args, _ = bench_args(__doc__.splitlines()[0], repeats=3)
    load = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        write_images(root, known.images)
        folder = ["data=image_folder", f"data.root={root}", "data.size=32", f"data.num_workers={known.workers}"]
        variants = {
            "hand-written DataLoader loop": raw_epoch(root, known.workers),
            "optkit, streamed (data=image_folder)": optkit_epoch(folder),
            "optkit, data.cache=true (epoch from memory)": optkit_epoch([*folder, "data.cache=true"]),
        }
        rounds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, measure in variants.items():
                rounds[name].append(measure())
        start = time.perf_counter()
        build([*folder, "data.cache=true"])
        decode = time.perf_counter() - start
    compile_rows = {} if known.no_compile else {
        "default run (SmallCNN on digits, batch 64)": compiled_steps([], 20),
        "ResNet-20 (32×32×3, batch 32)": compiled_steps(["model=resnet", "data=synthetic", "data.shape=[3,32,32]",
                                                          "data.batch_size=32", "data.num_train=1024"], 10),
    }
    raw = statistics.median(rounds["hand-written DataLoader loop"])
    start_marker, end_marker = markers("bench_data")
    lines = [
        start_marker,
        "## Data paths: streaming, cache, compile (`scripts/bench_data.py`)",
        "",
        f"`python scripts/bench_data.py --images {known.images} --workers {known.workers} --repeats {args.repeats} "
        f"--threads {args.threads}` — torch {torch.__version__}, {args.threads} thread(s), {machine()}, "
        f"{datetime.date.today()}, {load}: compare the rows of one table, measured interleaved, not absolute "
        "times across tables.",
        "",
        f"One epoch of SmallCNN (AdamW, cosine per step) on {known.images} generated 32×32 JPEGs (10 classes, "
        f"+{known.images // 5} validation images), batch {BATCH}, {known.workers} DataLoader workers decoding with "
        "Pillow (random resized crop, flip, normalise); median seconds per epoch over interleaved rounds, "
        "validation included. *× raw*: throughput relative to the hand-written loop (higher is faster).",
        "",
        "| path | s / epoch | × raw throughput |",
        "|---|---:|---:|",
    ]
    for name, values in rounds.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.2f} | {raw / median:.3f}× |")
    lines += ["", f"`data.cache=true` decodes the folder once when the run starts: {decode:.2f} s here."]
    if compile_rows:
        lines += ["", "`trainer.compile=true` (torch.compile, inductor, CPU): ms per optimizer step after 3 warm-up steps, "
                  "and the first compiled step's time (the compilation).", "",
                  "| model | eager ms / step | compiled ms / step | × | first compiled step, s |",
                  "|---|---:|---:|---:|---:|"]
    for name, row in compile_rows.items():
        lines.append(f"| {name} | {row['eager']:.2f} | {row['compiled']:.2f} | {row['eager'] / row['compiled']:.2f}× "
                     f"| {row['compile_s']:.1f} |")
    lines.append(end_marker)
    publish("bench_data", "\n".join(lines), not args.no_write)


if __name__ == "__main__":
    main()
