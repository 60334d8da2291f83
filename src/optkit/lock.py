"""One run per directory: an exclusive `flock` on `<dir>/.optkit.lock`.

Hydra's run directories carry a timestamp, but only to the second, and `hydra.run.dir=X`
(how a run is resumed) can name the same directory twice. Two runs writing one directory
would interleave checkpoints and logs, so the first takes the lock and a second one stops
with one line (exit 2) before it writes anything.

`RunDirLock` is a Hydra callback (conf/train.yaml `hydra.callbacks`): `on_run_start` runs
before Hydra creates the run directory or writes `.hydra/`, so the lock comes first; a
`-m` sweep locks its sweep directory the same way. Only the main process of a torchrun /
`srun` launch takes it (its other ranks share rank 0's directory). The kernel releases a
flock when its process ends, however it ends: a run killed with SIGKILL leaves no stale
lock, and the next run (its resume) takes it at once. A flock belongs to the open file, which a
fork shares, so a forked child (a DataLoader worker, alive for seconds after its parent's
SIGKILL) closes its copy at once: the lock stays the run's alone.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from optkit.errors import ConfigError, OptkitError, OutputError, exit_error, warn, writing

LOCK = ".optkit.lock"
PROBE_BYTES = 64 << 10  # more than Hydra's .hydra/ files and the first lines of train.log


def acquire(directory: Path, key: str) -> Optional[int]:
    """Lock `directory` (created if needed) for this process; return the lock's file
    descriptor (kept open: closing it releases the lock). Raise `ConfigError` under `key`
    when another process holds it, `OutputError` when the directory cannot be written (read
    only, no space, permission, a file in the way). A file system without locks gets a
    warning and None."""
    with writing(directory / LOCK):
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip("\x00 \n") or "?"  # NULs: its probe
        os.close(fd)
        raise ConfigError(key, f"another optkit run (pid {holder}) is writing to this directory; wait for it to "
                          f"end or choose another {key}", str(directory)) from None
    except OSError as err:
        os.close(fd)
        warn(f"{key}: cannot lock {directory} ({err}); make sure no other run writes there")
        return None
    try:
        with writing(directory / LOCK):
            reserve(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OutputError:
        os.close(fd)
        raise
    _held.add(fd)
    return fd


_held: set[int] = set()  # this process's lock descriptors


def _forget_in_child() -> None:
    for fd in _held:
        os.close(fd)  # only this process's reference: the parent keeps its lock
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def reserve(fd: int) -> None:
    """Write (and free again) `PROBE_BYTES`: on a full disk this fails here, with one line,
    rather than inside Hydra, which writes `.hydra/` and `train.log` next (tracebacks)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, bytes(PROBE_BYTES), 0)
    os.fsync(fd)


def release(fd: Optional[int]) -> None:
    if fd is not None:
        _held.discard(fd)
        os.close(fd)


class RunDirLock(Callback):
    """Holds the lock of the run (or sweep) directory from before Hydra writes there until
    the run ends."""

    def __init__(self) -> None:
        self.fd: Optional[int] = None

    def _lock(self, config: DictConfig, key: str) -> None:
        from optkit import distributed

        if not distributed.detect().is_main:
            return
        try:
            self.fd = acquire(Path(str(OmegaConf.select(config, key))).absolute(), key)
        except OptkitError as err:
            exit_error(err)  # Hydra would print a callback's exception with a traceback hint, exit 1

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._lock(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._lock(config, "hydra.sweep.dir")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        release(self.fd)
        self.fd = None

    on_multirun_end = on_run_end
