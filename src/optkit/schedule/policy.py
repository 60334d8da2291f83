"""The contract every lr policy follows (MMCV `LrUpdaterHook.get_lr`).

A policy is a small dataclass whose fields are its config (the schema in `optkit.config`
is derived from them, so the defaults live here and nowhere else) and whose `lr` is a pure
function of progress. Progress is the epoch when `by_epoch` (MMCV's default: the lr
changes only at epoch starts) and the optimizer step otherwise; `total` is then the
number of epochs or of steps. `lr` must accept numpy arrays for `base` (one row per
param group) and `progress` (one column per step), so that a whole curve is one call; it
must also stay finite for progress at or past `total` (a chunk of the scheduler may run
past the end of the run), although those values are never used.

Static checks (`__post_init__`) raise `ConfigError` naming the field; checks that need
the run length go in `check(timeline)`, called by `build_schedule`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from optkit.errors import ConfigError
from optkit.schedule.timeline import Timeline


@contextmanager
def under(node: str) -> Iterator[None]:
    """Re-key a policy's `ConfigError` under its config node (`total_steps` → `schedule.total_steps`)."""
    try:
        yield
    except ConfigError as err:
        raise (err if err.key == node or err.key.startswith(f"{node}.") else err.under(node)) from None


def required(value: Any, key: str, option: str) -> Any:
    """MMCV has no default for this argument: the config must set it."""
    if value is None:
        raise ConfigError(key, f"is required by {option}", None)
    return value


def per_iteration_only(by_epoch: bool, option: str) -> None:
    """MMCV's cyclic and OneCycle hooks assert `by_epoch=False`."""
    if by_epoch:
        raise ConfigError("by_epoch", f"{option} updates every iteration; by_epoch must be false", by_epoch)


def as_float_list(value: Any) -> list[float]:
    """A YAML list (OmegaConf ListConfig) or tuple as plain floats."""
    return [float(v) for v in value]


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def per_group(value: Any, n_groups: int, key: str) -> np.ndarray:
    """A number for every group or a list with one number per group, as a column."""
    values = [value] * n_groups if not isinstance(value, (list, tuple)) else list(value)
    if len(values) != n_groups:
        raise ConfigError(key, f"needs one value per param group ({n_groups} groups)", values)
    return np.asarray(values, dtype=float)[:, None]


@dataclass
class LrPolicy:
    by_epoch: bool = True

    def lr(self, base: np.ndarray, progress: np.ndarray, total: int) -> np.ndarray:
        raise NotImplementedError

    def base_lrs(self, bases: np.ndarray) -> np.ndarray:
        """Each group's base lr; MMCV OneCycle replaces it with `max_lr / div_factor`."""
        return bases

    def check(self, timeline: Timeline) -> None:
        """Raise `ConfigError` if the policy cannot run for this many steps."""

    def check_groups(self, n_groups: int) -> None:
        """Raise `ConfigError` if per-group values do not match the optimizer's groups."""
