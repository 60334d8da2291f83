"""Stop at a step boundary when the job is told to go: save `last.pt`, then requeue or exit.

SLURM sends SIGUSR2 `signal_delay_s` before a job's time limit (submitit asks for
`--signal=USR2@<signal_delay_s>`), a scheduler or a user sends SIGTERM, a user may send
SIGUSR1 or press Ctrl-C (SIGINT, exit status 130; a second Ctrl-C before the step ends
aborts at once: `Aborted`). A signal arrives in the middle of a step, so the handler only records it; the loop
asks `requested(step)` once per optimizer step (an attribute read), and when it is set
saves `last.pt` there (atomically, see checkpoint.py) and calls `hand_over()`, which lets
the signal's previous owner decide what happens next:

- submitit (every job the `local`/`slurm` launchers start) owns SIGUSR2 and SIGTERM. Its
  SIGUSR2 handler runs now, after the checkpoint: it pickles the Hydra launcher's
  `checkpoint()` (the same task with the same overrides and output directory), requeues the
  job (`scontrol requeue`, up to `max_num_timeout` times for time limits) and exits; the
  requeued job resumes from `last.pt` (`trainer.resume=auto`). Its SIGTERM handler only logs,
  so a single process trains on until SLURM kills the job; a SLURM-side requeue (`scontrol
  requeue`, preemption) then resumes from the checkpoint just written.
- nobody (a plain `python train.py`, torchrun): `Preempted` is raised; the entry point
  prints one line and exits with 128 + the signal number. Resume by running again with
  `hydra.run.dir=<the run dir>`.
- under DDP, where a rank cannot train on alone, every rank raises `Preempted` once the
  previous handler returns (submitit requeues from rank 0 and returns on the others). The
  exit status leaves submitit without a result for the task, so its client does not take
  the rank's exit for a failure; SLURM's requeue restarts all tasks.

A signal the process ignores (SIG_IGN, e.g. under `nohup`) stays ignored.

Under DDP each rank records its own signals (torchrun and srun forward them to every
process, but not at the same instant), so every `DDP_CHECK_EVERY` steps the ranks agree with
one all-reduce of the signal number (a CPU tensor: gloo, no GPU sync) and all stop at the
same step; rank 0 writes the checkpoint. Each rank decides on the all-reduced value alone: a
signal that lands while a rank waits in the all-reduce is acted on at the next agreement
(deciding on it at once made that rank stop while the others trained on).
"""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable, Optional

import torch

from optkit.errors import OptkitError

SIGNALS = (signal.SIGUSR2, signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
DDP_CHECK_EVERY = 10  # optimizer steps between the ranks' agreement (one tiny all-reduce)


class Preempted(OptkitError):
    """The run stopped on a signal after saving `last.pt`; running it again resumes."""

    def __init__(self, signum: int, step: int) -> None:
        self.signum = signum
        self.step = step
        super().__init__(f"{signal.Signals(signum).name} at step {step}, last.pt saved")

    @property
    def label(self) -> str:  # type: ignore[override]
        return "interrupted" if self.signum == signal.SIGINT else "preempted"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Aborted(KeyboardInterrupt):
    """A second Ctrl-C while a stop is pending: the user wants out now, not at the step's
    end. Raised from the signal handler wherever the run is; a checkpoint being written is
    abandoned before its rename (atomic_save), so the last good `last.pt` stays. A KeyboardInterrupt, so that no `except Exception` (a sweep's job) swallows it."""

    exit_code = 128 + signal.SIGINT


class StopRequest:
    """Records the first of `SIGNALS` that arrives; `never()` is one that no signal sets."""

    def __init__(self, world_size: int = 1) -> None:
        self.signum: Optional[int] = None
        self.world_size = world_size
        self.previous: dict[int, Any] = {}

    @classmethod
    def never(cls) -> "StopRequest":
        return cls()

    def install(self) -> "StopRequest":
        """Take over `SIGNALS` (main thread only; elsewhere signals cannot be handled)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:
                continue
            self.previous[signum] = previous
            signal.signal(signum, self._record)
        return self

    def restore(self) -> None:
        """Give the signals back; a run stopping on one ignores further Ctrl-Cs until its stop
        line is printed (`errors.exit_stopped`), which Python's handler would cut short."""
        for signum, previous in self.previous.items():
            stopping = signum == signal.SIGINT and self.signum is not None
            signal.signal(signum, signal.SIG_IGN if stopping else previous)
        self.previous.clear()

    def _record(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        elif signum == signal.SIGINT:
            raise Aborted()

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def requested(self, step: int) -> bool:
        """True when the run must stop after this step (every rank agrees under DDP)."""
        if self.world_size == 1:
            return self.signum is not None
        if step % DDP_CHECK_EVERY:
            return False
        import torch.distributed as dist

        flag = torch.tensor([self.signum or 0])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        agreed = int(flag.item())  # not self.signum: a signal may land right after the all-reduce
        if agreed and self.signum is None:
            self.signum = agreed
        return agreed != 0

    def hand_over(self, step: int) -> None:
        """After the checkpoint: call the signal's previous Python handler (submitit's), then
        raise `Preempted` — unless that handler returned in a single process (submitit
        ignoring SIGTERM), where training goes on. Under DDP every rank leaves together:
        submitit requeues from rank 0 only, and its handler returns on the others."""
        signum = self.signum
        assert signum is not None
        previous: Optional[Callable[..., Any]] = self.previous.get(signum)
        if callable(previous) and previous is not signal.default_int_handler:  # Python's raises KeyboardInterrupt
            self.signum = None
            previous(signum, None)
            if self.world_size == 1:
                return
        raise Preempted(signum, step)
