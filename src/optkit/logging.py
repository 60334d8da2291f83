"""What a run reports: TensorBoard scalars, `metrics.jsonl`, a progress bar, hparams.

Scalars (TensorBoard tag = JSON key): `train/loss`, `train/lr/<group>`,
`train/momentum/<group>`, `train/<key>/<group>` for every other key the schedule drives
(`train/weight_decay/<group>`, a custom optimizer's key), `train/grad_norm`, `train/samples_per_s`, `val/loss`, `val/acc`;
with fp16 `train/skipped_steps` and `train/loss_scale`; with `trainer.nonfinite=skip`
`train/nonfinite_steps` (steps not applied so far in the run).
Only the main process (rank 0) writes anything.

Every `metrics.jsonl` line is `{"step", "kind", "time" (unix seconds), ...}`: `kind` is
`train` or `val` for scalars, or an event of the run's life that `scripts/sweep_summary.py`
reads: `start` (`resumed_from`: the checkpoint or null; `cuda_visible_devices`: the job's GPUs),
`preempted` (`signal`), `done`, `pruned`
(`epoch`: an Optuna pruner stopped the trial there),
`error` (`error`: one line, written by the entry point when a job of a sweep raised).

A write that fails (no space, read-only, permission) is one `OutputError` naming the file.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Optional

from omegaconf import DictConfig, OmegaConf

from optkit.config import flatten
from optkit.errors import writing


METRICS = "metrics.jsonl"


def jsonl_record(step: Optional[int], kind: str, values: Mapping[str, Any]) -> str:
    return json.dumps({"step": step, "kind": kind, "time": round(time.time(), 3), **values}) + "\n"


def append_event(run_dir: Path, kind: str, step: Optional[int] = None, **fields: Any) -> None:
    """One event line in `run_dir/metrics.jsonl` from outside a `RunLogger` (the entry point
    records a failure that may happen before the logger exists)."""
    path = Path(run_dir) / METRICS
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(jsonl_record(step, kind, fields))
            f.flush()
            os.fsync(f.fileno())


class RunLogger:
    def __init__(self, run_dir: Path, *, enabled: bool, tensorboard: bool, progress: bool,
                 total_steps: int, initial_step: int) -> None:
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self.writer = None
        self.jsonl = None
        self.bar = None
        if not enabled:
            return
        with writing(self.run_dir / METRICS):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.jsonl = (self.run_dir / METRICS).open("a", buffering=1)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            with writing(self.run_dir / "tb"):
                self.writer = SummaryWriter(log_dir=str(self.run_dir / "tb"))
        if progress and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True)

    def scalars(self, step: int, values: Mapping[str, float], kind: str = "train") -> None:
        if not self.enabled:
            return
        assert self.jsonl is not None
        with writing(self.run_dir / METRICS):
            self.jsonl.write(jsonl_record(step, kind, values))
        if self.writer is not None:
            with writing(self.run_dir / "tb"):  # the event writer's thread reports its error here
                self.tensorboard_scalars(step, values)

    def tensorboard_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """All of a log point's scalars as one event (one `Summary` holding a value per tag):
        what `add_scalar` writes tag by tag, at a quarter of its cost, which matters at
        `log_every=10` on a small model (scripts/bench_logging.py)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        assert self.writer is not None
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value)) for tag, value in values.items()])
        self.writer._get_file_writer().add_summary(summary, step)

    def event(self, kind: str, step: int, **fields: Any) -> None:
        """A line in metrics.jsonl only (start, preempted, done), flushed to disk at once."""
        if not self.enabled:
            return
        assert self.jsonl is not None
        with writing(self.run_dir / METRICS):
            self.jsonl.write(jsonl_record(step, kind, fields))
            os.fsync(self.jsonl.fileno())

    def progress(self, step: int, postfix: Mapping[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def hparams(self, cfg: DictConfig, metrics: Mapping[str, float]) -> None:
        """The flattened config in the same event file (HParams tab); `metrics` names scalar
        tags already logged (`val/acc`), whose values the tab shows per run."""
        if self.writer is None:
            return
        from torch.utils.tensorboard.summary import hparams

        flat = {key: value if isinstance(value, (bool, int, float, str)) else str(value)
                for key, value in flatten(OmegaConf.to_container(cfg, resolve=True)).items()}
        exp, ssi, sei = hparams(flat, dict(metrics))
        file_writer = self.writer._get_file_writer()
        with writing(self.run_dir / "tb"):
            for summary in (exp, ssi, sei):
                file_writer.add_summary(summary)

    def finish(self, step: int, summary: str) -> None:
        """The run's end: the bar drawn at `step` (100 % unless the run stopped early; it is
        otherwise redrawn only every `log_every` steps), closed, then the one summary line."""
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.refresh()
        self.close()
        if self.enabled:
            print(summary, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        with writing(self.run_dir / "tb"):
            if self.writer is not None:
                self.writer.close()
        with writing(self.run_dir / METRICS):
            if self.jsonl is not None:
                self.jsonl.close()


def summary_line(run_dir: Path, monitor: str, best: Optional[float], best_epoch: int, seconds: float) -> str:
    """`optkit: best val/acc 0.9889 at epoch 27, 7.7 s; outputs/... holds best.pt, last.pt,
    metrics.jsonl, tb/ (tensorboard --logdir outputs/...)`: what a user needs when the run ends.
    The directory is shown relative to the working directory when it lies below it."""
    run_dir = Path(run_dir).absolute()
    try:
        shown = run_dir.relative_to(Path.cwd())
    except ValueError:
        shown = run_dir
    found = [p for p in run_dir.iterdir() if p.suffix == ".pt" or p.name in (METRICS, "tb")]
    held = [p.name + ("/" if p.is_dir() else "") for p in sorted(found, key=lambda p: (p.suffix != ".pt", p.name))]
    result = f"best {monitor} {best:.4f} at epoch {best_epoch}" if best is not None else "no evaluation"
    tail = f" (tensorboard --logdir {shown})" if (run_dir / "tb").is_dir() else ""
    return f"optkit: {result}, {seconds:.1f} s; {shown} holds {', '.join(held)}{tail}"


class Throughput:
    """Samples per second between two log points (wall clock, host side)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.samples = 0

    def add(self, samples: int) -> None:
        self.samples += samples

    def rate(self) -> Optional[float]:
        now = time.perf_counter()
        elapsed = now - self.start
        rate = self.samples / elapsed if elapsed > 0 else None
        self.start, self.samples = now, 0
        return rate
