"""Local sweeps (Hydra's basic launcher, the submitit `local` preset) and
`scripts/sweep_summary.py` on their real outputs: every job is a row, best first, and a
failed job shows its error line."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optkit.cli import check_command_line
from optkit.errors import ConfigError
from tests.conftest import REPO, run_train

SUMMARY = [sys.executable, str(REPO / "scripts" / "sweep_summary.py")]
FAST = ["model=mlp", "trainer.max_iters=20", "optimizer=sgd"]
# lr 1e9 diverges: a job that fails while training, after the pre-Hydra check passed it
DIVERGED = ("stopped: non-finite loss at step 3 (epoch 0); last.pt holds the weights from before that update "
            "(trainer.nonfinite=skip skips such steps)")


def summarize(sweep_dir: Path) -> tuple[str, list[dict[str, str]]]:
    out = subprocess.run(SUMMARY + [str(sweep_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout, list(csv.DictReader((sweep_dir / "summary.csv").open()))


@pytest.mark.slow
def test_basic_launcher_sweep_of_four_with_one_failure(tmp_path):
    sweep_dir = tmp_path / "sweep"
    out = run_train(["-m", *FAST, "optimizer.lr=0.1,0.03,0.01,1e9", f"hydra.sweep.dir={sweep_dir}"], timeout=300)
    assert out.returncode == 1  # Hydra reports the failed job after running all four
    assert "Error executing job with overrides" in out.stderr and DIVERGED.partition(": ")[2] in out.stderr
    for i in range(3):
        assert (sweep_dir / str(i) / "last.pt").exists()
    table, rows = summarize(sweep_dir)
    assert [r["status"] for r in rows] == ["done", "done", "done", "failed"]
    assert rows[-1]["job"] == "3" and rows[-1]["error"] == DIVERGED
    accs = [float(r["best_val_acc"]) for r in rows[:3]]
    assert accs == sorted(accs, reverse=True)
    assert all(r["step"] == "20" and float(r["final_loss"]) > 0 and float(r["wall_s"]) > 0 for r in rows[:3])
    assert "common overrides: model=mlp trainer.max_iters=20 optimizer=sgd" in table
    assert DIVERGED[:60] in table


@pytest.mark.slow
def test_submitit_local_sweep_runs_jobs_as_processes_with_logs(tmp_path):
    sweep_dir = tmp_path / "sweep"
    out = run_train(["-m", "hydra/launcher=local", *FAST, "optimizer.lr=0.1,1e9", f"hydra.sweep.dir={sweep_dir}"],
                    timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    for i in range(2):
        job_id = yaml.safe_load((sweep_dir / str(i) / ".hydra" / "hydra.yaml").read_text())["hydra"]["job"]["id"]
        assert (sweep_dir / ".submitit" / job_id / f"{job_id}_0_log.out").exists()
    _, rows = summarize(sweep_dir)
    assert [(r["job"], r["status"], r["error"]) for r in rows] == [("0", "done", ""), ("1", "failed", DIVERGED)]


def test_launcher_presets_compose_and_their_typos_are_caught_before_hydra():
    cfg = check_command_line(["-m", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "optimizer.lr=0.1,0.01",
                              "schedule=step,cosine"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu"
    assert (launcher.timeout_min, launcher.max_num_timeout, launcher.signal_delay_s) == (60, 3, 120)
    assert check_command_line(["-m", "hydra/launcher=local"]).hydra.launcher._target_.endswith("LocalLauncher")
    with pytest.raises(ConfigError, match="hydra.launcher.partion: unknown key.*did you mean partition"):
        check_command_line(["-m", "hydra/launcher=slurm", "hydra.launcher.partion=gpu", "optimizer.lr=0.1,0.01"])
    with pytest.raises(ConfigError, match="hydra/launcher: unknown option"):
        check_command_line(["-m", "hydra/launcher=slurmm"])


def write_job(job_dir: Path, num: int, job_id: str, overrides: list[str], records: list[dict]) -> None:
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"num": num, "id": job_id}}}))
    (job_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 9, "ki')


@pytest.mark.slow
def test_summary_lists_killed_and_never_started_jobs(tmp_path):
    """A job killed by SLURM (time limit, no requeue left) shows SLURM's line from the
    submitit log; a job of the sweep that never started is still a row."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(
        {"hydra": {"overrides": {"task": ["optimizer.lr=0.1,0.01,0.001", "model=mlp"]}}}))
    start = {"step": 0, "kind": "start", "time": 100.0, "resumed_from": None}
    write_job(sweep / "0", 0, "7_0", ["optimizer.lr=0.1", "model=mlp"],
              [start, {"step": 5, "kind": "train", "time": 101.0, "train/loss": 0.5},
               {"step": 5, "kind": "preempted", "time": 101.5, "signal": "SIGUSR2"},
               {**start, "step": 5, "time": 130.0, "resumed_from": "last.pt"},
               {"step": 8, "kind": "val", "time": 140.0, "val/acc": 0.75}])
    log = sweep / ".submitit" / "7_0" / "7_0_0_log.err"
    log.parent.mkdir(parents=True)
    log.write_text("[2024-01-01 00:00:00,000][submitit][INFO] - x\n"
                   "slurmstepd: error: *** JOB 7 ON vm CANCELLED AT 2024-01-01T00:01:00 DUE TO TIME LIMIT ***\n")
    write_job(sweep / "1", 1, "7_1", ["optimizer.lr=0.01", "model=mlp"],
              [start, {"step": 20, "kind": "val", "time": 110.0, "val/acc": 0.9},
               {"step": 20, "kind": "done", "time": 111.0}])
    table, rows = summarize(sweep)
    assert [(r["job"], r["status"], r["restarts"], r["best_val_acc"], r["step"], r["wall_s"]) for r in rows] == [
        ("1", "done", "0", "0.9", "20", "11.0"),
        ("0", "incomplete", "1", "0.75", "8", "40.0"),
        ("2", "not started", "0", "", "", "")]
    assert rows[1]["error"].startswith("slurmstepd: error: *** JOB 7 ON vm CANCELLED")
    assert rows[2]["overrides"] == "optimizer.lr=0.001 model=mlp"
    assert "common overrides: model=mlp" in table
