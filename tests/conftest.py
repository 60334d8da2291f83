"""Shared fixtures: compose configs like train.py does, run train.py in a subprocess.

Tests marked `slow` (subprocess runs, sweeps, SLURM, DDP) run after the fast ones.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from optkit.config import CONF_DIR
from optkit.errors import forget_warnings
from tests.slurm_cluster import slurm_cluster  # noqa: F401  (session fixture: a real local SLURM)

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as in a shell's foreground job: pytest started in the background of a script
    inherits SIGINT ignored, and so would every run it starts, and the Ctrl-C tests with it."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)


RUNNING: list[pytest.Item] = []  # the test being set up or run (fixtures included)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    RUNNING[:] = [item]


def require_slow_mark(what: str) -> None:
    """`make test-fast` (`-m "not slow"`) must not start processes: fail a test that does
    without the `slow` mark."""
    if RUNNING and RUNNING[0].get_closest_marker("slow") is None:
        pytest.fail(f"{RUNNING[0].nodeid} starts {what} in a subprocess: mark it @pytest.mark.slow", pytrace=False)


@pytest.fixture(autouse=True)
def fresh_warnings():
    """optkit prints each warning once per process; every test gets to see its own."""
    forget_warnings()


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="train"):
        return compose("train", overrides=list(overrides))


@pytest.fixture
def compose_cfg():
    return compose_config


def run_train(args: Sequence[str], *, cwd: Path | None = None, timeout: float = 300,
              env: dict | None = None, script: str = "train.py") -> subprocess.CompletedProcess:
    """`python train.py ARGS` as a user runs it; never raises on a non-zero exit."""
    require_slow_mark(script)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


@pytest.fixture
def train_cli():
    return run_train


def wait_for_training(proc: subprocess.Popen, root: Path, pattern: str, timeout: float = 120) -> Path:
    """Poll until a `metrics.jsonl` matching `root/pattern` holds a train record (the run is
    mid-training, past its set-up); return that run dir. Fails if `proc` ends first."""
    deadline = time.time() + timeout
    while True:
        for path in root.glob(pattern):
            if '"kind": "train"' in path.read_text():
                return path.parent
        assert proc.poll() is None and time.time() < deadline, "run ended or hung before its first train log"
        time.sleep(0.02)


def weight_difference(run_a: Path, run_b: Path) -> float:
    """Largest absolute difference between the model weights in two runs' last.pt."""
    import torch

    a = torch.load(Path(run_a) / "last.pt", weights_only=True)["model"]
    b = torch.load(Path(run_b) / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


# A CPU run long enough (150 steps of a wider MLP) to be signalled mid-training by a test
# that waits for its first train log. Its uninterrupted result is computed once per session
# with 2 threads, as jobs of the `slurm` launcher preset run (cpus_per_task=2 sets
# OMP_NUM_THREADS), so interrupted-and-resumed runs compare bitwise.
LONG_RUN = ["model=mlp", "model.hidden=[512,512]", "optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9",
            "trainer.max_iters=150", "trainer.deterministic=true", "trainer.device=cpu", "logging.log_every=5"]
LONG_RUN_ENV = {"OMP_NUM_THREADS": "2"}


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]


def torchrun(args: list[str], cwd: Path, delay_rank1: float = 0.0) -> subprocess.Popen:
    """`torchrun --nproc_per_node=2 train.py ARGS` from `cwd`; rank 1 may start later, as on a busy node."""
    command = f'if [ "$RANK" = 1 ]; then sleep {delay_rank1}; fi; exec "$0" "$@"'
    return subprocess.Popen([*TORCHRUN, "--no-python", "bash", "-c", command, sys.executable, str(REPO / "train.py"),
                             *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


@contextlib.contextmanager
def killed_on_failure(proc: subprocess.Popen) -> Iterator[None]:
    """torchrun and its workers are killed when the block fails (a hang, a timeout)."""
    try:
        yield
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


@pytest.fixture(scope="session")
def ddp_reference(tmp_path_factory) -> Path:
    """The uninterrupted LONG_RUN on 2 DDP ranks × 32 (torchrun): its run dir. A resumed DDP run
    ends bitwise where it ends; single-process training drifts from it by float rounding."""
    cwd = tmp_path_factory.mktemp("ddp_reference")
    proc = torchrun([*LONG_RUN, "data.batch_size=32", f"hydra.run.dir={cwd / 'run'}"], cwd)
    with killed_on_failure(proc):
        out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    return cwd / "run"


@pytest.fixture(scope="session")
def long_reference(tmp_path_factory) -> Path:
    """The uninterrupted LONG_RUN (data.batch_size=64): its run dir."""
    run_dir = tmp_path_factory.mktemp("long_reference") / "run"
    out = run_train([*LONG_RUN, f"hydra.run.dir={run_dir}"], env=LONG_RUN_ENV)
    assert out.returncode == 0, out.stderr
    return run_dir
