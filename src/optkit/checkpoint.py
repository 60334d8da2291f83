"""Checkpoints on disk: atomic writes, safe loads, RNG capture, auto-resume.

A checkpoint is a plain dict saved with `torch.save`:
`model` (state_dict), `optimizer`, `scaler`, `progress` (step, epoch, epoch_step,
best), `rng` (torch, cuda, python, numpy), `config`, and with weight averaging `ema`
(the EMA weights as a model state_dict) or `swa` (`AveragedModel` and SWALR state). It is loaded with
`weights_only=True`, so opening one never runs code.

Writes go to a temporary file in the same directory, are fsync'ed, and renamed over the
target; the previous `last.pt` is kept as `prev.pt` (hard link, so some complete `last.pt`
exists at every instant). A kill at any moment therefore leaves a loadable checkpoint,
and a corrupt `last.pt` (a disk that lied about fsync, a copy cut short) falls back to
`prev.pt`. docs/robustness.md describes the layout.
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from optkit.averaging.hooks import Averaging
from optkit.errors import CheckpointError, ConfigError, OutputError, warn, writing
from optkit.optim.modes import eval_weights

LAST = "last.pt"
PREV = "prev.pt"
BEST = "best.pt"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RecordingFile:
    """A file for `torch.save` that keeps the OSError of a failed write: torch reports it
    as a RuntimeError about zip positions, which names neither the file nor the reason."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.error: Optional[OSError] = None

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.f.flush()


def interrupt_behind(err: BaseException) -> Optional[KeyboardInterrupt]:
    """The Ctrl-C (or `preempt.Aborted`) that `err` was raised while handling, if any:
    torch.save's zip writer, closed while a KeyboardInterrupt passes through it, raises a
    RuntimeError about zip positions of its own, which would turn a second Ctrl-C into a crash."""
    while err is not None:
        if isinstance(err, KeyboardInterrupt):
            return err
        err = err.__context__
    return None


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, fsync, rename over `path`. A failed write (no space,
    read-only, permission) leaves `path` as it was and is one `OutputError` naming it."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    recording: Optional[RecordingFile] = None
    try:
        with os.fdopen(fd, "wb") as f:
            recording = RecordingFile(f)
            torch.save(obj, recording)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        interrupt = interrupt_behind(err)
        if interrupt is not None:
            raise interrupt from None
        cause = err if isinstance(err, OSError) else recording.error if recording is not None else None
        if cause is not None:
            raise OutputError(path, cause.strerror or str(cause)) from None
        raise
    with writing(path.parent):
        _fsync_dir(path.parent)


def save_last(obj: Any, directory: Path) -> Path:
    """Write `last.pt`, keeping the previous one as `prev.pt`."""
    directory = Path(directory)
    last = directory / LAST
    if last.exists():
        link = directory / f".{PREV}.link"
        with writing(directory / PREV):
            link.unlink(missing_ok=True)
            os.link(last, link)
            os.replace(link, directory / PREV)
    atomic_save(obj, last)
    return last


def load(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated zip, bad pickle, unsupported global ...
        raise CheckpointError(f"{path}: cannot be loaded ({type(err).__name__}: {str(err).splitlines()[0]})") from err


def load_latest(directory: Path, map_location: Any = "cpu", *, own: bool = True) -> Optional[tuple[Path, dict[str, Any]]]:
    """The newest loadable of `last.pt`, `prev.pt` in `directory`; None when there is none.

    A corrupt one is reported on stderr (one line) and skipped. In the run's `own`
    directory, a corrupt `last.pt` is renamed `last.pt.corrupt` (the next `save_last` would
    otherwise rotate it into `prev.pt` over the good one) and temporary files of writes a
    kill interrupted are removed. Another run's directory (`own=False`: a
    `trainer.resume=PATH` elsewhere) is only read: that run may still be writing there, and
    a `.tmp` removed or a `last.pt` renamed under it would break its `os.replace`. When
    checkpoints exist but none loads, the run must not silently start again from scratch
    over them: `ConfigError` on `trainer.resume`.
    """
    directory = Path(directory)
    for tmp in directory.glob(".*.tmp") if own else ():
        tmp.unlink(missing_ok=True)
    failed = []
    for name in (LAST, PREV):
        path = directory / name
        if not path.exists():
            continue
        try:
            state = load(path, map_location)
        except CheckpointError as err:
            failed.append(name)
            warn(f"{err}; trying the previous checkpoint" if name == LAST else str(err))
            continue
        if failed and own:
            quarantine(directory / LAST)
        return path, state
    if failed:
        raise ConfigError("trainer.resume", f"no checkpoint in {directory} can be loaded ({', '.join(failed)} "
                          "corrupt); move them away, or set trainer.resume=null to start afresh over them")
    return None


def quarantine(path: Path) -> None:
    try:
        os.replace(path, path.with_name(path.name + ".corrupt"))
    except FileNotFoundError:  # another rank of the same run moved it first
        pass


class Checkpointer:
    """Writes the run's state: `last.pt` (keeping `prev.pt`) and `best.pt`. Only the main
    process writes; the others call it too, so the loop needs no rank logic."""

    def __init__(self, run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 scaler: Optional[torch.amp.GradScaler], config: dict[str, Any], enabled: bool,
                 averaging: Averaging = Averaging()) -> None:
        self.run_dir = Path(run_dir)
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.config = config
        self.enabled = enabled
        self.averaging = averaging

    def __call__(self, progress: Any, *, last: bool, best: bool) -> None:
        """Every rank calls it (an average's buffers are synchronised across ranks); the
        weights saved are the optimizer's evaluation weights (`optkit.optim.modes`)."""
        with eval_weights(self.optimizer):
            averaged = self.averaging.state_dict()
            if not self.enabled:
                return
            state = {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "progress": vars(progress).copy(),
                "rng": rng_state(),
                "config": self.config,
            }
            if self.averaging.key is not None:
                state[self.averaging.key] = averaged
            if last:  # inside the block: state_dict() holds the live tensors, not copies
                save_last(state, self.run_dir)
            if best:
                atomic_save(state, self.run_dir / BEST)


def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
