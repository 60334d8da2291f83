"""One run per directory: a second run in a locked directory stops with one line (exit 2)
before it writes anything; the lock dies with its process, even under SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from optkit.errors import ConfigError
from optkit.lock import LOCK, acquire, release
from tests.conftest import REPO, run_train

HOLD = "import sys, time; from optkit.lock import acquire; acquire(__import__('pathlib').Path(sys.argv[1]), 'k'); " \
       "print('locked', flush=True); time.sleep(60)"


def holder(directory) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_held_lock_names_its_holder_and_dies_with_it(tmp_path):
    proc = holder(tmp_path)
    try:
        with pytest.raises(ConfigError) as err:
            acquire(tmp_path, "hydra.run.dir")
        assert err.value.key == "hydra.run.dir"
        assert f"another optkit run (pid {proc.pid}) is writing to this directory" in err.value.message()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    release(acquire(tmp_path, "hydra.run.dir"))  # SIGKILL left no stale lock


FORK = "import os, sys, time; from optkit.lock import acquire; acquire(__import__('pathlib').Path(sys.argv[1]), 'k'); " \
       "pid = os.fork(); pid == 0 and print(os.getpid(), flush=True); time.sleep(60)"


def test_a_forked_child_does_not_keep_the_lock_after_its_parent_dies(tmp_path):
    """DataLoader workers are forked and outlive a SIGKILLed run for a few seconds: its
    resume must find the directory free at once."""
    proc = subprocess.Popen([sys.executable, "-c", FORK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())  # printed by the child: its fork handlers have run
    try:
        with pytest.raises(ConfigError):
            acquire(tmp_path, "hydra.run.dir")  # the parent still holds it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        release(acquire(tmp_path, "hydra.run.dir"))
    finally:
        os.kill(child, signal.SIGKILL)


def test_released_lock_can_be_taken_again(tmp_path):
    fd = acquire(tmp_path / "new", "hydra.run.dir")
    assert (tmp_path / "new" / LOCK).read_text() == str(os.getpid())
    release(fd)
    release(acquire(tmp_path / "new", "hydra.run.dir"))


@pytest.mark.slow
def test_two_runs_in_one_directory(tmp_path):
    run_dir = tmp_path / "run"
    args = ["model=mlp", "schedule=fixed", "trainer.device=cpu", "logging.tensorboard=false",
            f"hydra.run.dir={run_dir}"]
    first = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args, "trainer.max_epochs=1000"], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (run_dir / "last.pt").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert first.poll() is None
        second = run_train([*args, "trainer.max_epochs=1000", "logging.log_every=7"])
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"optkit: config error: hydra.run.dir: another optkit run (pid {first.pid}) is writing to this directory; "
            f"wait for it to end or choose another hydra.run.dir (got '{run_dir}')"]
        assert "logging.log_every=7" not in (run_dir / ".hydra" / "overrides.yaml").read_text()  # nothing written
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    third = run_train([*args, "trainer.max_epochs=1"])  # the lock went with the killed run; a shorter fixed run
    assert third.returncode == 0, third.stderr
    assert f"resumed from {run_dir / 'last.pt'}" in third.stdout


@pytest.mark.slow
def test_a_sweep_locks_its_sweep_directory(tmp_path):
    out = run_train(["-m", "trainer.seed=1,2", "trainer.dry_run=true", f"hydra.sweep.dir={tmp_path}"])
    assert out.returncode == 0, out.stderr
    assert (tmp_path / LOCK).exists() and (tmp_path / "0").is_dir() and (tmp_path / "1").is_dir()
