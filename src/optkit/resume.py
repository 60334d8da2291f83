"""Continuing a run from a checkpoint: which one, whether it fits the config, restoring it.

`trainer.resume=auto` takes the newest loadable checkpoint of the run directory (`last.pt`,
else `prev.pt`; none: a fresh start), a path takes that file, or that run directory's
newest, unless the run directory holds a newer checkpoint of the same command (`find`). Before anything is restored, the config saved in the checkpoint is compared with
the current one. A resumed run is only worth having if it is the run the current config
describes, so a change of anything that shapes the trajectory (model, data and batching,
optimizer, constructor, paramwise, schedule, warmup, momentum, grad, seed, amp) is refused
with one line listing the changed keys, unless `trainer.resume_force=true`. The run length
(`trainer.max_epochs` / `trainer.max_iters`) may change when the lr and momentum curves of
the old and new length agree over the shorter run (a fixed or step schedule extended; not
a cosine, whose every step depends on the length). Everything else (logging, evaluation
and checkpoint cadence, device, determinism, the non-finite policy, the data root,
`data.val_batch_size`, the DataLoader's workers and prefetching, `trainer.load_from`, which a
resumed run ignores, `trainer.compile` and `trainer.monitor`) is free to change.

With `resume_force`, the current settings apply from the resumed step: the weights, RNG
and progress come from the checkpoint, and so does the optimizer state (moments, step
counts) when the optimizer class is the same, but every param group takes the current
config's hyper-parameters and multipliers (`lr_mult`, `decay_mult`, ...), whose bases are
the current optimizer config's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from optkit import checkpoint
from optkit.averaging.hooks import Averaging
from optkit.config import flatten
from optkit.errors import ConfigError, format_value, muted, warn
from optkit.loop import Progress
from optkit.schedule import Timeline
from optkit.schedule.build import build_schedule
from optkit.schedule.keys import group_key

HARMLESS = (
    "logging", "trainer.device", "trainer.deterministic", "trainer.eval_every", "trainer.ckpt_every",
    "trainer.ckpt_by_epoch", "trainer.resume", "trainer.resume_force", "trainer.nonfinite",
    "trainer.max_nonfinite", "trainer.dry_run", "trainer.load_from", "trainer.load_strict", "trainer.compile",
    "trainer.monitor", "trainer.monitor_mode", "data.val_batch_size", "data.root", "data.num_workers",
    "data.pin_memory", "data.persistent_workers", "data.prefetch_factor", "custom_imports", "allow_failed_imports",
)
RUN_LENGTH = ("trainer.max_epochs", "trainer.max_iters")
MAX_LISTED = 6
_ABSENT = "(absent)"

Found = tuple[Path, dict[str, Any]]


def find(resume: Optional[str], run_dir: Path) -> Optional[Found]:
    """`auto`: the newest loadable checkpoint in the run directory, if any. A path: that
    file, or that directory's newest (validate.check_resume made sure it exists), read
    without touching that directory; but when the run directory already holds a checkpoint
    of this same command (saved with the same `trainer.resume`), that one wins: the command
    ran before, was stopped, and runs again (a requeue, the preempt message's advice), so
    its own progress must not be thrown away for the starting point it began from."""
    if resume is None:
        return None
    own = checkpoint.load_latest(run_dir)
    if resume == "auto" or (own is not None and saved_resume(own) == resume):
        return own
    path = Path(resume)
    if path.is_dir():
        found = checkpoint.load_latest(path, own=path.resolve() == Path(run_dir).resolve())
        if found is None:
            raise ConfigError("trainer.resume", "no last.pt or prev.pt in that directory", resume)
        return found
    return path, checkpoint.load(path)


def saved_resume(found: Found) -> Any:
    """The `trainer.resume` of the run that wrote a checkpoint."""
    return ((found[1].get("config") or {}).get("trainer") or {}).get("resume")


def is_under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


def changed_keys(saved: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{key: (saved value, current value)} of the leaves that differ and are not harmless.
    When a node's `_target_` changed, only that is listed, not each of its fields."""
    old, new = flatten(saved), flatten(current)
    diff = {key: (old.get(key, _ABSENT), new.get(key, _ABSENT)) for key in sorted(old.keys() | new.keys())
            if old.get(key, _ABSENT) != new.get(key, _ABSENT) and not is_under(key, HARMLESS)}
    replaced = tuple(key[: -len("._target_")] for key in diff if key.endswith("._target_"))
    return {key: values for key, values in diff.items()
            if key.endswith("._target_") or not is_under(key, replaced)}


def with_later_keys(saved: Any, defaults: Any) -> Any:
    """`saved` with the keys it lacks taken from `defaults` (train.py's config without
    overrides), at every depth. A checkpoint written before optkit gained a key (`loss`,
    `ema`, `trainer.monitor`, ...) ran as that key's default runs, so the default is what
    it is compared with. A node whose `_target_` differs from the default's is another
    option and keeps exactly its saved keys."""
    if not isinstance(saved, Mapping) or not isinstance(defaults, Mapping):
        return saved
    if saved.get("_target_") != defaults.get("_target_"):
        return saved
    merged = dict(saved)
    for key, value in defaults.items():
        merged[key] = with_later_keys(saved[key], value) if key in saved else value
    return merged


def run_length(cfg: Any, iters_per_epoch: int) -> int:
    return cfg["trainer"]["max_iters"] or cfg["trainer"]["max_epochs"] * iters_per_epoch


def same_curves(saved: Mapping[str, Any], cfg: DictConfig, timeline: Timeline, groups: list[dict]) -> bool:
    """Whether the saved run length gives the same curve of every scheduled key as the current
    one on every step of the shorter run (only asked when nothing else that shapes them changed)."""
    old_timeline = Timeline(timeline.iters_per_epoch, run_length(saved, timeline.iters_per_epoch))
    with muted():  # the old run's warnings (a warmup longer than it) were its own
        old = build_schedule(OmegaConf.create(dict(saved)), old_timeline)
        new = build_schedule(cfg, timeline)
    steps = np.arange(min(old_timeline.max_iters, timeline.max_iters))
    if old.curves.keys() != new.curves.keys():
        return False
    for key in new.curves:
        bases = [group_key(key).read(group) for group in groups]
        if not np.array_equal(old.values(key, bases, steps), new.values(key, bases, steps)):
            return False
    return True


def describe_changes(changes: dict[str, tuple[Any, Any]]) -> str:
    items = [f"{key} ({format_value(a)} -> {format_value(b)})" for key, (a, b) in changes.items()]
    more = len(items) - MAX_LISTED
    return ", ".join(items[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def check_config(found: Found, cfg: DictConfig, timeline: Timeline, groups: list[dict]) -> None:
    """Refuse (one `ConfigError`) to resume a checkpoint whose run the current config does
    not describe; with `trainer.resume_force` only warn."""
    path, state = found
    saved = state.get("config")
    if saved is None:
        warn(f"trainer.resume: {path} holds no config to compare with; resuming it as it is")
        return
    current = OmegaConf.to_container(cfg, resolve=True)
    changes = changed_keys(saved, current)
    if any(before == _ABSENT for before, _ in changes.values()):
        from optkit.compose import default_config

        saved = with_later_keys(saved, default_config())
        changes = changed_keys(saved, current)
    if changes and all(is_under(key, RUN_LENGTH) for key in changes) and same_curves(saved, cfg, timeline, groups):
        changes = {}
    if not changes:
        return
    if cfg.trainer.resume_force:
        warn(f"trainer.resume_force: resuming {path} with changed settings: {describe_changes(changes)}")
        return
    raise ConfigError("trainer.resume", f"{path} was trained with other settings that change the run: "
                      f"{describe_changes(changes)}; use a new run directory, or set trainer.resume_force=true "
                      "to go on with the new settings")


def restore(found: Found, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            scaler: Optional[torch.amp.GradScaler], cfg: DictConfig) -> Progress:
    """Load weights, optimizer and scaler state, RNG states and progress. Under
    `resume_force` the param groups keep the current config's hyper-parameters, and an
    optimizer of another class starts from fresh state."""
    path, state = found
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ConfigError("trainer.resume", f"the weights in {path} do not fit this model "
                          f"({str(err).strip().splitlines()[0]})") from None
    if not cfg.trainer.resume_force:
        optimizer.load_state_dict(state["optimizer"])
    else:
        restore_optimizer_forced(path, state, optimizer, cfg)
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    checkpoint.set_rng_state(state["rng"])
    saved = dict(state["progress"])
    if "best_acc" in saved:  # written before trainer.monitor: the best val/acc, -inf before any validation
        best = saved.pop("best_acc")
        saved["best"] = best if best != float("-inf") else None
    return Progress(**saved)


def restore_averaging(found: Found, averaging: Averaging) -> None:
    """The EMA or SWA state saved with the checkpoint; a checkpoint without it (averaging
    turned on under `resume_force`) starts the average from the restored weights."""
    path, state = found
    if averaging.key is None:
        return
    if state.get(averaging.key) is None:
        warn(f"trainer.resume: {path} holds no {averaging.key} state; the average starts from its weights")
        return
    averaging.load_state_dict(state[averaging.key])


def restore_optimizer_forced(path: Path, state: dict[str, Any], optimizer: torch.optim.Optimizer,
                             cfg: DictConfig) -> None:
    saved_target = (state.get("config") or {}).get("optimizer", {}).get("_target_")
    if saved_target != cfg.optimizer.get("_target_"):
        warn(f"trainer.resume_force: {path} holds {saved_target} state; {cfg.optimizer._target_} starts afresh")
        return
    current = [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]
    try:
        optimizer.load_state_dict(state["optimizer"])
    except ValueError as err:  # another number or size of param groups
        warn(f"trainer.resume_force: the optimizer state in {path} does not fit ({err}); it starts afresh")
        return
    for group, settings in zip(optimizer.param_groups, current):
        group.update(settings)  # the current multipliers (lr_mult, ...) with the rest: bases come from the config
