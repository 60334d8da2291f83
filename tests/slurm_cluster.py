"""A real single-node SLURM cluster for the tests (`../shared/slurm/`, see its README).

`slurm_cluster` (session scope) runs `start-local-slurm.sh` with accounting (so that
submitit's `sacct` polling sees cancelled/failed jobs instead of waiting forever) and 4
advertised CPUs (two 2-CPU sweep jobs at once on a 2-core machine), and stops the cluster
at the end if it was not already running. It skips, with the reason, only where SLURM
cannot be installed (not root, no start script, package installation failed); a cluster
that is installed but does not come up is a test failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

SLURM_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "slurm"
START_ENV = {"LOCAL_SLURM_ACCOUNTING": "1", "LOCAL_SLURM_CPUS": "4"}
DAEMONS = ("slurmctld", "slurmd", "sinfo", "munged", "slurmdbd", "mariadbd")


def running() -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Path]:
    start = SLURM_DIR / "start-local-slurm.sh"
    if os.geteuid() != 0:
        pytest.skip("SLURM tests need root: ../shared/slurm/start-local-slurm.sh installs and starts slurmctld/slurmd")
    if not start.exists():
        pytest.skip(f"SLURM tests need {start} (the repository checked out beside shared/)")
    was_running = running()
    out = subprocess.run([str(start)], env={**os.environ, **START_ENV}, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        missing = [name for name in DAEMONS if shutil.which(name) is None]
        message = f"start-local-slurm.sh exited {out.returncode}:\n{tail(out.stdout + out.stderr)}"
        if missing:
            pytest.skip(f"SLURM could not be installed (missing {', '.join(missing)}); {message}")
        pytest.fail(f"local SLURM is installed but did not start; {message}")
    yield SLURM_DIR
    if not was_running:
        subprocess.run([str(SLURM_DIR / "stop-local-slurm.sh")], capture_output=True, timeout=300)


def submitted_jobs(sweep_dir: Path) -> list[str]:
    """SLURM job ids of a sweep, from submitit's folders (`<id>` or `<array>_<index>`)."""
    folder = Path(sweep_dir) / ".submitit"
    return sorted(p.parent.name for p in folder.glob("*/*_submitted.pkl") if p.name == f"{p.parent.name}_submitted.pkl")


def cancel(sweep_dir: Path) -> None:
    jobs = submitted_jobs(sweep_dir)
    if jobs:
        subprocess.run(["scancel", *jobs], capture_output=True, timeout=30)


def sacct_states(job: str, timeout: float = 30) -> list[str]:
    """Every state the job went through (`sacct -D`: a requeued job has one line per run),
    once accounting has caught up with its end."""
    deadline = time.time() + timeout
    while True:
        out = subprocess.run(["sacct", "-D", "-n", "-X", "-P", "-o", "State", "-j", job], capture_output=True,
                             text=True, timeout=30).stdout
        states = [line.split()[0] for line in out.splitlines() if line.strip()]
        if (states and states[-1] not in ("PENDING", "RUNNING", "REQUEUED")) or time.time() > deadline:
            return states
        time.sleep(1)
