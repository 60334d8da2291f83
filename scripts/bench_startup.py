"""Benchmark: how long a user waits before anything happens.

    python scripts/bench_startup.py [--repeats R] [--before CHECKOUT] [--no-write]

Measured as a user sees it, on whole processes (`python train.py ...` from a shell):

1. `python train.py --help` and `python train.py --cfg job`: answered without importing
   torch (optkit.config and the CLI check stay torch-free on these paths).
2. Time to the first optimizer step: from spawning `python train.py` (digits, defaults,
   `logging.log_every=1`) until `metrics.jsonl` holds the first training record, which the
   loop writes right after step 1. The rest of the run is then killed.
3. The import cost behind it: `import torch`, `import torch.utils.tensorboard`,
   `import sklearn.datasets` in fresh interpreters (what a run cannot avoid).

Variants run in interleaved rounds and the median is reported. `--before CHECKOUT` (another
checkout of optkit, e.g. `git worktree add /tmp/before main`) times the train.py rows there
too, in the same rounds, and adds a `before` column: a change's effect on start-up, measured
side by side. The script replaces its own
section of docs/benchmarks.md (between its marker comments).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_doc import machine, markers, publish  # noqa: E402

START, END = markers("bench_startup")
PY = sys.executable


def checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that imports `checkout`'s optkit (before any installed one)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout / "src"), os.environ.get("PYTHONPATH", "")])}


def timed_process(args: list[str], checkout: Path = REPO) -> float:
    start = time.perf_counter()
    subprocess.run([PY, *args], cwd=checkout, env=checkout_env(checkout), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def first_step_seconds(checkout: Path = REPO) -> float:
    """Spawn a default run and wait for its first training record in metrics.jsonl."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics = Path(tmp) / "metrics.jsonl"
        start = time.perf_counter()
        proc = subprocess.Popen([PY, "train.py", "logging.log_every=1", f"hydra.run.dir={tmp}"], cwd=checkout,
                                env=checkout_env(checkout), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while proc.poll() is None:
                if metrics.exists() and any(json.loads(line)["kind"] == "train"
                                            for line in metrics.read_text().splitlines() if line.strip()):
                    return time.perf_counter() - start
                time.sleep(0.002)
            raise RuntimeError(f"train.py exited with {proc.returncode} before its first step")
        finally:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", type=Path, help="another optkit checkout, timed side by side")
    parser.add_argument("--before-label", help="what --before is, for the docs (default: its path)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    train_rows: dict[str, Callable[[Path], float]] = {
        "`python train.py --help`": lambda checkout: timed_process(["train.py", "--help"], checkout),
        "`python train.py --cfg job`": lambda checkout: timed_process(["train.py", "--cfg", "job"], checkout),
        "`python train.py`: spawn → first optimizer step": first_step_seconds,
    }
    variants: dict[str, Callable[[], float]] = {
        **{name: (lambda measure=measure: measure(REPO)) for name, measure in train_rows.items()},
        **({f"before: {name}": (lambda measure=measure: measure(args.before)) for name, measure in train_rows.items()}
           if args.before else {}),
        "`import torch`": lambda: timed_process(["-c", "import torch"]),
        "`import torch.utils.tensorboard`": lambda: timed_process(["-c", "import torch.utils.tensorboard"]),
        "`import sklearn.datasets`": lambda: timed_process(["-c", "import sklearn.datasets"]),
        "`python -c pass` (interpreter alone)": lambda: timed_process(["-c", "pass"]),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, measure in variants.items():
            times[name].append(measure())
    median = {name: statistics.median(values) for name, values in times.items()}
    if args.before:
        header = ["| what | before | seconds |", "|---|---:|---:|"]
        rows = [f"| {name} | {median[f'before: {name}']:.2f} | {median[name]:.2f} |" if name in train_rows
                else f"| {name} | | {median[name]:.2f} |" for name in median if not name.startswith("before: ")]
    else:
        header = ["| what | seconds |", "|---|---:|"]
        rows = [f"| {name} | {seconds:.2f} |" for name, seconds in median.items()]
    date = datetime.date.today().isoformat()
    before_arg = " --before CHECKOUT" if args.before else ""
    before_note = (f" *before*: CHECKOUT = {args.before_label or args.before}, timed in the same rounds (compare "
                   "the columns, not figures of separate runs: they move with the machine's load)."
                   if args.before else "")
    section = "\n".join([
        START,
        "## Start-up (`scripts/bench_startup.py`)",
        "",
        f"`python scripts/bench_startup.py --repeats {args.repeats}{before_arg}` — torch {torch.__version__}, "
        f"{machine()}, {date}. Whole processes, median of interleaved rounds.{before_note}",
        "",
        *header,
        *rows,
        "",
        "`--help` and `--cfg job` never import torch. The first step waits for the imports a run needs "
        "(torch, TensorBoard's writer, scikit-learn's digits) plus composing, validating and building; "
        "the import rows show how much of it is the libraries themselves.",
        END,
    ])
    publish("bench_startup", section, write=not args.no_write)


if __name__ == "__main__":
    main()
