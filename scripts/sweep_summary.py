"""python scripts/sweep_summary.py MULTIRUN_DIR [--csv PATH]

One row per job of a Hydra sweep (`python train.py -m ...`, any launcher), best validation
accuracy first, printed as a table and written as CSV (default `MULTIRUN_DIR/summary.csv`):

    job  overrides  status  restarts  best_val_acc  final_loss  step  wall_s  error

Sources, all on disk: the sweep's `multirun.yaml` (every job the sweep asked for, so a job
that never started is listed too), each job directory's `.hydra/overrides.yaml` and
`.hydra/hydra.yaml` (job number and id), its `metrics.jsonl` (scalars and the run's events:
`start`, `preempted`, `done`, `error`; see optkit/logging.py) and, for the submitit
launchers, `.submitit/<job id>/<job id>_0_log.err` (the last line that is not a log line,
e.g. SLURM's `CANCELLED ... DUE TO TIME LIMIT` for a job killed without an error of its own).

status: `done` (finished), `failed` (raised; `error` holds its one-line message),
`preempted` (stopped on a signal after saving last.pt, not resumed yet), `incomplete`
(started, neither finished nor failed: still running, or killed), `not started`.
`restarts` counts resumes from a checkpoint (submitit requeues, reruns in the same dir);
`wall_s` runs from the first start to the last record, requeue waits included.
For an Optuna study (`hydra/sweeper=optuna_search`) a last line gives the study's best value
and parameters from the sweeper's `optimization_results.yaml`.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

COLUMNS = ["job", "overrides", "status", "restarts", "best_val_acc", "final_loss", "step", "wall_s", "error"]
FAILED = ("failed", "not started")


@dataclass
class Job:
    num: int
    overrides: list[str]
    status: str = "not started"
    restarts: int = 0
    best_val_acc: Optional[float] = None
    final_loss: Optional[float] = None
    step: Optional[int] = None
    wall_s: Optional[float] = None
    error: str = ""
    dir: Optional[Path] = None

    def sort_key(self) -> tuple:
        acc = self.best_val_acc if self.best_val_acc is not None else -math.inf
        return (self.status in FAILED, -acc, self.num)


def expected_jobs(sweep: Path) -> dict[int, list[str]]:
    """Job number → overrides, as Hydra's basic sweeper expands `multirun.yaml`'s overrides."""
    path = sweep / "multirun.yaml"
    if not path.exists():
        return {}
    from optkit.hydra_private import basic_sweeper_jobs

    task = (yaml.safe_load(path.read_text()).get("hydra", {}).get("overrides", {}) or {}).get("task") or []
    try:
        jobs = basic_sweeper_jobs(task)
    except Exception:  # a sweeper other than the basic one (interval sweeps, ...): job dirs only
        return {}
    return dict(enumerate(jobs))


def read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill
                continue
    return records


def last_error_line(log: Path) -> str:
    """The last line of a submitit stderr log that is not one of submitit's/Hydra's log lines."""
    if not log.exists():
        return ""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        text = line.strip()
        if text and not text.startswith(("[", "submitit ", "warnings.warn", "File ")):
            return text
    return ""


def read_job(job_dir: Path, sweep: Path) -> Job:
    hydra_cfg = yaml.safe_load((job_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    job = Job(num=int(hydra_cfg["job"]["num"]), overrides=list(overrides), dir=job_dir, status="incomplete")
    records = read_records(job_dir / "metrics.jsonl")
    life = [r for r in records if r["kind"] in ("start", "preempted", "done", "error")]
    starts = [r for r in life if r["kind"] == "start"]
    job.restarts = sum(1 for r in starts if r.get("resumed_from"))
    if life:
        job.status = {"start": "incomplete", "preempted": "preempted", "done": "done", "error": "failed"}[life[-1]["kind"]]
        job.error = life[-1].get("error", "")
    accs = [r["val/acc"] for r in records if r["kind"] == "val" and "val/acc" in r]
    losses = [r["train/loss"] for r in records if r["kind"] == "train" and "train/loss" in r]
    job.best_val_acc = max(accs) if accs else None
    job.final_loss = losses[-1] if losses else None
    steps = [r["step"] for r in records if isinstance(r.get("step"), int)]
    job.step = max(steps) if steps else None
    times = [r["time"] for r in records if "time" in r]
    if starts and times:
        job.wall_s = max(times) - starts[0]["time"]
    if job.status in ("incomplete", "failed") and not job.error:
        job_id = str(hydra_cfg["job"].get("id", ""))
        job.error = last_error_line(sweep / ".submitit" / job_id / f"{job_id}_0_log.err")
    return job


def summarize(sweep: Path) -> list[Job]:
    jobs = {num: Job(num, overrides) for num, overrides in expected_jobs(sweep).items()}
    for overrides_file in sorted(sweep.rglob(".hydra/overrides.yaml")):
        job_dir = overrides_file.parent.parent
        if ".submitit" in job_dir.relative_to(sweep).parts or not (job_dir / ".hydra" / "hydra.yaml").exists():
            continue
        job = read_job(job_dir, sweep)
        jobs[job.num] = job
    return sorted(jobs.values(), key=Job.sort_key)


def common_overrides(jobs: list[Job]) -> list[str]:
    """Overrides every job shares: printed once above the table, which shows the swept ones."""
    shared = set.intersection(*(set(job.overrides) for job in jobs))
    return [o for o in jobs[0].overrides if o in shared]


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(jobs: list[Job]) -> str:
    common = common_overrides(jobs)
    rows = [COLUMNS]
    for job in jobs:
        varying = " ".join(o for o in job.overrides if o not in common) or "-"
        error = job.error if len(job.error) <= 100 else job.error[:97] + "..."
        rows.append([str(job.num), varying, job.status, str(job.restarts), fmt(job.best_val_acc),
                     fmt(job.final_loss), fmt(job.step), fmt(job.wall_s, 2), error])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"common overrides: {' '.join(common) or '-'}"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def write_csv(jobs: list[Job], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*COLUMNS, "dir"])
        for job in jobs:
            writer.writerow([job.num, " ".join(job.overrides), job.status, job.restarts,
                             "" if job.best_val_acc is None else job.best_val_acc,
                             "" if job.final_loss is None else job.final_loss,
                             "" if job.step is None else job.step,
                             "" if job.wall_s is None else round(job.wall_s, 3), job.error,
                             "" if job.dir is None else str(job.dir)])


def study_best(sweep: Path) -> Optional[str]:
    """The Optuna sweeper's verdict (`optimization_results.yaml`), as one line; None elsewhere."""
    path = sweep / "optimization_results.yaml"
    if not path.is_file():
        return None
    import yaml

    results = yaml.safe_load(path.read_text()) or {}
    params = " ".join(f"{k}={v}" for k, v in (results.get("best_params") or {}).items())
    return f"study best: {fmt(results.get('best_value'))} with {params}"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun directory (hydra.sweep.dir)")
    parser.add_argument("--csv", type=Path, default=None, help="CSV path (default: SWEEP_DIR/summary.csv)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"sweep_summary: no such directory: {args.sweep_dir}", file=sys.stderr)
        return 2
    jobs = summarize(args.sweep_dir)
    if not jobs:
        print(f"sweep_summary: no Hydra jobs under {args.sweep_dir}", file=sys.stderr)
        return 2
    print(table(jobs))
    best = study_best(args.sweep_dir)
    if best is not None:
        print(best)
    out = args.csv or args.sweep_dir / "summary.csv"
    write_csv(jobs, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
