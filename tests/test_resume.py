"""A run killed with SIGKILL and started again in its directory ends bitwise where an
uninterrupted run ends (CPU, trainer.deterministic=true)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO, run_train

ARGS = ["model=mlp", "model.dropout=0.1", "optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9",
        "schedule=cosine", "warmup=linear", "warmup.iters=10", "trainer.max_epochs=4",
        "trainer.deterministic=true", "trainer.ckpt_every=7", "trainer.ckpt_by_epoch=false", "logging.log_every=3"]


def kill_after_first_checkpoint(run_dir) -> None:
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *ARGS, f"hydra.run.dir={run_dir}"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (run_dir / "last.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_killed_then_resumed_run_matches_uninterrupted(tmp_path):
    full = run_train([*ARGS, f"hydra.run.dir={tmp_path / 'full'}"])
    assert full.returncode == 0, full.stderr
    kill_after_first_checkpoint(tmp_path / "cut")
    partial = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["progress"]["step"]
    assert 0 < partial < 92
    resumed = run_train([*ARGS, f"hydra.run.dir={tmp_path / 'cut'}"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {tmp_path / 'cut' / 'last.pt'} at step {partial}" in resumed.stdout
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)
    assert a["progress"]["step"] == b["progress"]["step"] == 92
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
