"""A run killed with SIGKILL and started again in its directory ends bitwise where an
uninterrupted run ends (CPU, trainer.deterministic=true): killed at a random step of
several seeds, with accumulation and a momentum schedule, with bf16 autocast, and with its
last.pt truncated after the kill (resumed from prev.pt)."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from optkit import checkpoint
from optkit.resume import find
from tests.conftest import LONG_RUN, LONG_RUN_ENV, REPO, run_train, weight_difference

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


# --- killed at a random step: a checkpoint every step, so the kill lands anywhere -----------

EVERY_STEP = ["model=mlp", "model.dropout=0.1", "optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9",
              "warmup=linear", "warmup.iters=10", "trainer.max_epochs=3", "trainer.device=cpu",
              "trainer.deterministic=true", "trainer.ckpt_every=1", "trainer.ckpt_by_epoch=false",
              "logging.log_every=4", "logging.tensorboard=false"]
CASES = {
    "cosine": [*EVERY_STEP, "schedule=cosine"],
    "accumulate_momentum": [*EVERY_STEP, "schedule=step", "schedule.step=[2,4]", "momentum=cosine",
                            "data.batch_size=32", "grad.accumulate=3"],
    "bf16": [*EVERY_STEP, "schedule=cosine", "trainer.amp=bf16", "trainer.max_iters=30"],  # bf16 is slow on CPU
    "ema": [*EVERY_STEP, "schedule=cosine", "ema=ema", "ema.decay=0.9", "ema.warmup=true", "ema.update_every=2"],
    "swa": [*[a for a in EVERY_STEP if not a.startswith("model")], "model=cnn", "model.channels=[4,8]",
            "data.batch_size=128", "schedule=cosine", "swa=swa", "swa.start_epoch=1", "swa.anneal_epochs=1"],
}
# (case, seed of the kill step, truncate last.pt after the kill)
KILLS = [("cosine", 0, False), ("cosine", 1, True), ("cosine", 2, False), ("accumulate_momentum", 3, False),
         ("bf16", 4, False), ("ema", 5, False), ("swa", 6, False)]
_references: dict[str, dict] = {}


def reference(case: str, root: Path) -> dict:
    """The uninterrupted run's final checkpoint (once per case)."""
    if case not in _references:
        out = run_train([*CASES[case], f"hydra.run.dir={root / case}"])
        assert out.returncode == 0, out.stderr
        _references[case] = torch.load(root / case / "last.pt", weights_only=True)
    return _references[case]


def step_on_disk(path: Path) -> int:
    try:
        return torch.load(path, weights_only=True)["progress"]["step"]
    except Exception:  # not written yet
        return -1


def kill_at(args: list[str], run_dir: Path, step: int) -> int:
    """Start train.py, SIGKILL it once last.pt holds `step` or more; the step on disk then."""
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args, f"hydra.run.dir={run_dir}"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while step_on_disk(run_dir / "last.pt") < step and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    finished = proc.poll() is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not finished, "the run ended before it could be killed"
    return step_on_disk(run_dir / "last.pt")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.unlink()  # a new file: prev.pt may still be a hard link to the old one
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.slow
@pytest.mark.parametrize("case,seed,cut", KILLS, ids=[f"{c}-seed{s}{'-truncated' if t else ''}" for c, s, t in KILLS])
def test_killed_at_a_random_step_resumes_bitwise(tmp_path_factory, case, seed, cut):
    full = reference(case, tmp_path_factory.getbasetemp() / "references")
    total = full["progress"]["step"]
    target = random.Random(seed).randint(2, int(0.7 * total))
    run_dir = tmp_path_factory.mktemp(f"{case}-{seed}")
    killed_at = kill_at(CASES[case], run_dir, target)
    assert target <= killed_at < total
    if cut:
        truncate(run_dir / "last.pt")
    resumed = run_train([*CASES[case], "trainer.resume=auto", f"hydra.run.dir={run_dir}"])
    assert resumed.returncode == 0, resumed.stderr
    source = "prev.pt" if cut else "last.pt"
    assert f"resumed from {run_dir / source} at step " in resumed.stdout
    if cut:
        assert "last.pt: cannot be loaded" in resumed.stderr
    assert not list(run_dir.glob(".*.tmp"))
    final = torch.load(run_dir / "last.pt", weights_only=True)
    assert final["progress"] == full["progress"]
    for key in full["model"]:
        assert torch.equal(full["model"][key], final["model"][key]), key
    for i, state in full["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], final["optimizer"]["state"][i]["momentum_buffer"]), i
    for key in ("ema", "swa"):  # weight averaging's state
        assert_same(full.get(key), final.get(key), key)


def assert_same(a, b, where: str) -> None:
    """Nested dicts and lists of tensors and numbers, equal bitwise."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


# --- which checkpoint a run resumes from -----------------------------------------------------


def chain_checkpoint(directory: Path, step: int, resume: str) -> None:
    checkpoint.save_last({"progress": {"step": step}, "config": {"trainer": {"resume": resume}}}, directory)


@pytest.mark.parametrize("own_resume, expected", [
    ("START", "own"),  # the same command ran here before: its progress wins
    ("auto", "start"),  # another command's checkpoint: the explicit path is what was asked for
    (None, "start"),  # nothing here yet
])
def test_the_run_directorys_own_checkpoint_of_the_same_command_wins(tmp_path, own_resume, expected):
    start, own = tmp_path / "start", tmp_path / "own"
    chain_checkpoint(start, 10, "auto")
    resume = str(start / "last.pt")
    if own_resume is not None:
        chain_checkpoint(own, 20, resume if own_resume == "START" else own_resume)
    path, state = find(resume, own)
    assert path == (own if expected == "own" else start) / "last.pt"
    assert state["progress"]["step"] == (20 if expected == "own" else 10)


def test_resuming_from_another_directory_leaves_it_untouched(tmp_path, capsys):
    other = tmp_path / "other"
    chain_checkpoint(other, 1, "auto")
    chain_checkpoint(other, 2, "auto")
    (other / "last.pt").write_bytes(b"corrupt")
    (other / ".last.pt.x.tmp").write_bytes(b"a write in progress")
    before = {p.name: p.read_bytes() for p in other.iterdir()}
    path, _ = find(str(other), tmp_path / "mine")
    assert path == other / "prev.pt"
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before


def run_until(args: list[str], run_dir: Path, past: int) -> subprocess.CompletedProcess:
    """Start train.py, SIGTERM it once it logged a train step beyond `past`, wait for it."""
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **LONG_RUN_ENV})
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        records = (run_dir / "metrics.jsonl").read_text().splitlines() if (run_dir / "metrics.jsonl").exists() else []
        if any(r["kind"] == "train" and r["step"] > past for r in map(json.loads, records)):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
def test_a_resume_chain_continues_from_its_own_latest_checkpoint(tmp_path, long_reference):
    """A (stopped) → B with trainer.resume=A/last.pt (stopped) → the same command again:
    it continues from B's checkpoint, not from A's, and ends bitwise where an uninterrupted
    run ends (what a SLURM requeue, which repeats the command, relies on)."""
    a, b = tmp_path / "a", tmp_path / "b"
    first = run_until([*LONG_RUN, f"hydra.run.dir={a}"], a, past=0)
    assert first.returncode == 128 + signal.SIGTERM, first.stderr
    step_a = step_on_disk(a / "last.pt")
    chained = [*LONG_RUN, f"hydra.run.dir={b}", f"trainer.resume={a / 'last.pt'}"]
    second = run_until(chained, b, past=step_a)
    assert second.returncode == 128 + signal.SIGTERM, second.stderr
    step_b = step_on_disk(b / "last.pt")
    assert 0 < step_a < step_b < 150
    assert second.stderr.strip().splitlines() == [f"optkit: preempted: SIGTERM at step {step_b}, last.pt saved; "
                                                  f"to resume, run the same command with hydra.run.dir={b}"]
    third = run_train(chained, env=LONG_RUN_ENV)
    assert third.returncode == 0, third.stderr
    assert f"resumed from {b / 'last.pt'} at step {step_b}" in third.stdout
    starts = [r["resumed_from"] for r in map(json.loads, (b / "metrics.jsonl").read_text().splitlines())
              if r["kind"] == "start"]
    assert starts == [str(a / "last.pt"), str(b / "last.pt")]
    assert weight_difference(b, long_reference) == 0.0
