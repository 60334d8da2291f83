"""Checkpoints on disk: atomic writes, safe loads, RNG capture, auto-resume.

A checkpoint is a plain dict saved with `torch.save`:
`model` (state_dict), `optimizer`, `scaler`, `progress` (step, epoch, epoch_step,
best), `rng` (torch, cuda, python, numpy) and `config`. It is loaded with
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

from optkit.errors import CheckpointError, ConfigError, warn

LAST = "last.pt"
PREV = "prev.pt"
BEST = "best.pt"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, fsync, rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def save_last(obj: Any, directory: Path) -> Path:
    """Write `last.pt`, keeping the previous one as `prev.pt`."""
    directory = Path(directory)
    last = directory / LAST
    if last.exists():
        link = directory / f".{PREV}.link"
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


def load_latest(directory: Path, map_location: Any = "cpu") -> Optional[tuple[Path, dict[str, Any]]]:
    """The newest loadable of `last.pt`, `prev.pt` in `directory`; None when there is none.

    A corrupt one is reported on stderr (one line) and skipped. A corrupt `last.pt` is
    renamed `last.pt.corrupt`: the next `save_last` would otherwise rotate it into `prev.pt`
    over the good one. Temporary files of writes a kill interrupted are removed. When
    checkpoints exist but none loads, the run must not silently start again from scratch
    over them: `ConfigError` on `trainer.resume`.
    """
    directory = Path(directory)
    for tmp in directory.glob(".*.tmp"):
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
        if failed:
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
                 scaler: Optional[torch.amp.GradScaler], config: dict[str, Any], enabled: bool) -> None:
        self.run_dir = Path(run_dir)
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.config = config
        self.enabled = enabled

    def __call__(self, progress: Any, *, last: bool, best: bool) -> None:
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
        if last:
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
