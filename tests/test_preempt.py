"""Signals stop a run at a step boundary with `last.pt` saved; the previous owner of the
signal (submitit) is called after the checkpoint; a plain run exits 128+signum and resumes."""
from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import termios
import threading
import time

import pytest
import torch

from optkit import errors
from optkit.errors import exit_stopped
from optkit.preempt import Aborted, Preempted, StopRequest
from tests.conftest import LONG_RUN, LONG_RUN_ENV, REPO, run_train, wait_for_training, weight_difference


@pytest.fixture
def stop():
    sigint = signal.getsignal(signal.SIGINT)
    request = StopRequest().install()
    yield request
    request.restore()
    signal.signal(signal.SIGINT, sigint)  # restore() leaves it ignored after a Ctrl-C, for the stop line


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


def test_a_run_stopping_on_ctrl_c_ignores_the_next_until_its_line_is_out_then_exits_at_once_on_it():
    old = signal.getsignal(signal.SIGINT)
    try:
        quiet = StopRequest().install()
        quiet.restore()  # no signal came: the previous handler is back
        assert signal.getsignal(signal.SIGINT) is old
        request = StopRequest().install()
        os.kill(os.getpid(), signal.SIGINT)
        request.restore()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        with pytest.raises(SystemExit) as info:
            exit_stopped(None, 143)
        assert info.value.code == 143 and signal.getsignal(signal.SIGINT) is errors._exit_at_once
    finally:
        signal.signal(signal.SIGINT, old)


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
    assert f"resumed from {job.parent / '0' / 'last.pt'} at step 20 (epoch 0): this run is finished; nothing to do" \
        in resumed.stdout
    assert (job.parent / "0" / "metrics.jsonl").read_text() == finished
    assert f"resumed from {job / 'last.pt'} at step {step}" in resumed.stdout
    assert weight_difference(job, long_reference) == 0.0


def test_a_second_ctrl_c_aborts_at_once(stop):
    os.kill(os.getpid(), signal.SIGINT)
    assert stop.requested(1)
    with pytest.raises(Aborted):
        os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(Preempted) as info:  # Python's own SIGINT handler is not called: it would raise
        stop.hand_over(1)
    assert info.value.exit_code == 130 and info.value.label == "interrupted"


def on_terminal(args: list[str]) -> tuple[subprocess.Popen, int, list[bytes]]:
    """train.py with a pseudo-terminal as its controlling terminal and stdin/stdout/stderr,
    as a shell runs it in the foreground; its output is read into the returned list."""
    master, slave = os.openpty()

    def take_terminal() -> None:  # the new session's controlling terminal, so ^C signals its group
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True, preexec_fn=take_terminal,
                            env={**os.environ, **LONG_RUN_ENV})
    os.close(slave)
    output: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's last writer is gone
                return
            if not chunk:
                return
            output.append(chunk)

    threading.Thread(target=read, daemon=True).start()
    return proc, master, output


def terminal_lines(output: list[bytes]) -> list[str]:
    return [line for line in re.split(r"[\r\n]+", b"".join(output).decode(errors="replace")) if line.strip()]


@pytest.mark.slow
def test_ctrl_c_on_a_terminal_saves_and_prints_the_resume_command(tmp_path, long_reference):
    run_dir = tmp_path / "run"
    proc, master, output = on_terminal([*LONG_RUN, f"hydra.run.dir={run_dir}"])
    wait_for_training(proc, tmp_path, "run/metrics.jsonl")
    os.write(master, b"\x03")  # the terminal sends SIGINT to the foreground process group
    assert proc.wait(timeout=120) == 130
    time.sleep(0.2)  # the reader drains what is left
    os.close(master)
    step = torch.load(run_dir / "last.pt", weights_only=True)["progress"]["step"]
    lines = terminal_lines(output)
    assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in lines), lines
    assert [line for line in lines if line.startswith("optkit:")] == [
        f"optkit: interrupted: SIGINT at step {step}, last.pt saved; to resume, run the same command with "
        f"hydra.run.dir={run_dir}"]
    resumed = run_train([*LONG_RUN, f"hydra.run.dir={run_dir}"], env=LONG_RUN_ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {run_dir / 'last.pt'} at step {step}" in resumed.stdout
    assert weight_difference(run_dir, long_reference) == 0.0


@pytest.mark.slow
def test_a_second_ctrl_c_on_a_terminal_stops_at_once_and_keeps_the_last_checkpoint(tmp_path):
    """Checkpoints every step, so the second ^C may land inside a write: the last good
    last.pt still loads."""
    run_dir = tmp_path / "run"
    args = [*LONG_RUN, "trainer.ckpt_every=1", "trainer.ckpt_by_epoch=false", f"hydra.run.dir={run_dir}"]
    proc, master, output = on_terminal(args)
    wait_for_training(proc, tmp_path, "run/metrics.jsonl")
    os.write(master, b"\x03")
    time.sleep(0.01)  # two signals at one instant would reach the handler as one
    os.write(master, b"\x03")
    status = proc.wait(timeout=120)
    time.sleep(0.2)
    os.close(master)
    assert status == 130, terminal_lines(output)
    lines = terminal_lines(output)
    assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in lines), lines
    stops = [line for line in lines if line.startswith("optkit:")]
    assert len(stops) == 1 and stops[0].startswith("optkit: interrupted: ") and stops[0].endswith(
        f"to resume, run the same command with hydra.run.dir={run_dir}"), stops
    assert torch.load(run_dir / "last.pt", weights_only=True)["progress"]["step"] > 0
    resumed = run_train(args, env=LONG_RUN_ENV)
    assert resumed.returncode == 0 and "resumed from" in resumed.stdout, resumed.stderr
