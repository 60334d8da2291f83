"""Signals stop a run at a step boundary with `last.pt` saved; the previous owner of the
signal (submitit) is called after the checkpoint; a plain run exits 128+signum and resumes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from optkit.preempt import Preempted, StopRequest
from tests.conftest import LONG_RUN, LONG_RUN_ENV, REPO, run_train, wait_for_training, weight_difference


@pytest.fixture
def stop():
    request = StopRequest().install()
    yield request
    request.restore()


def test_signal_is_recorded_not_acted_on(stop):
    assert not stop.requested(0)
    os.kill(os.getpid(), signal.SIGUSR1)
    assert stop.requested(1)
    with pytest.raises(Preempted) as info:
        stop.hand_over(7)
    assert info.value.exit_code == 128 + signal.SIGUSR1
    assert str(info.value) == "SIGUSR1 at step 7, last.pt saved"


def test_previous_python_handler_runs_after_the_checkpoint():
    """submitit's own SIGUSR2 handler (requeue + exit) is called by hand_over, not by the signal."""
    calls = []
    old = signal.signal(signal.SIGUSR2, lambda signum, frame: calls.append(signum))
    try:
        request = StopRequest().install()
        os.kill(os.getpid(), signal.SIGUSR2)
        assert calls == [] and request.requested(3)
        request.hand_over(3)  # the previous handler returns (like submitit's SIGTERM bypass): go on
        assert calls == [signal.SIGUSR2] and not request.requested(4)
        request.restore()
        assert signal.getsignal(signal.SIGUSR2) is not request._record
    finally:
        signal.signal(signal.SIGUSR2, old)


def test_ignored_signals_stay_ignored():
    old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        request = StopRequest().install()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert not request.requested(0)
        request.restore()
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_ddp_ranks_decide_on_the_agreed_flag_only(monkeypatch):
    """A signal landing during the ranks' all-reduce must not make this rank stop alone:
    the others saw 0 and train on; it is acted on at the next agreement."""
    import torch.distributed as dist

    request = StopRequest(world_size=2)

    def all_reduce(tensor, op):  # the peer had no signal; ours arrives while we wait
        request._record(signal.SIGUSR2, None)

    monkeypatch.setattr(dist, "all_reduce", all_reduce)
    assert not request.requested(5)  # not a check step
    assert not request.requested(10)
    monkeypatch.setattr(dist, "all_reduce", lambda tensor, op: None)
    assert request.requested(20) and request.signum == signal.SIGUSR2


def test_never_is_never_requested():
    assert not StopRequest.never().requested(10)


@pytest.mark.slow
def test_sigterm_saves_exits_with_one_line_and_the_rerun_resumes(tmp_path, long_reference):
    run_dir = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *LONG_RUN, f"hydra.run.dir={run_dir}"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **LONG_RUN_ENV})
    wait_for_training(proc, tmp_path, "cut/metrics.jsonl")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    step = torch.load(run_dir / "last.pt", weights_only=True)["progress"]["step"]
    assert 0 < step < 150
    assert stderr.strip().splitlines() == [
        f"optkit: preempted: SIGTERM at step {step}, last.pt saved; to resume, run the same command with "
        f"hydra.run.dir={run_dir}"]
    resumed = run_train([*LONG_RUN, f"hydra.run.dir={run_dir}"], env=LONG_RUN_ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {run_dir / 'last.pt'} at step {step}" in resumed.stdout
    events = [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
              if r["kind"] in ("start", "preempted", "done")]
    assert [(r["kind"], r["step"]) for r in events] == [("start", 0), ("preempted", step), ("start", step),
                                                         ("done", 150)]
    assert weight_difference(run_dir, long_reference) == 0.0


@pytest.mark.slow
def test_a_preempted_sweep_resumes_with_its_sweep_dir(tmp_path, long_reference):
    """SIGTERM during a `-m` sweep's second job: the message names the sweep directory; the
    same `-m` line with it finishes the sweep: the finished job ends at once without
    writing, the stopped one resumes and ends bitwise where an uninterrupted run ends."""
    sweep = ["-m", *LONG_RUN, "trainer.max_iters=20,150"]
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *sweep], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **LONG_RUN_ENV})
    job = wait_for_training(proc, tmp_path, "multirun/*/*/1/metrics.jsonl")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    step = torch.load(job / "last.pt", weights_only=True)["progress"]["step"]
    assert stderr.strip().splitlines()[-1] == (
        f"optkit: preempted: SIGTERM at step {step}, last.pt saved; to resume, run the same -m command with "
        f"hydra.sweep.dir={job.parent}")
    finished = (job.parent / "0" / "metrics.jsonl").read_text()
    resumed = run_train([*sweep, f"hydra.sweep.dir={job.parent}"], cwd=tmp_path, env=LONG_RUN_ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{job.parent / '0' / 'last.pt'}: this run finished at step 20; nothing to do" in resumed.stdout
    assert (job.parent / "0" / "metrics.jsonl").read_text() == finished
    assert f"resumed from {job / 'last.pt'} at step {step}" in resumed.stdout
    assert weight_difference(job, long_reference) == 0.0
