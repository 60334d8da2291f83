"""Which jobs a command line asks for: the override list of every job of a `-m` sweep,
from the command line and from `hydra.sweeper.params`, so that each can be checked
before Hydra starts."""
from __future__ import annotations

import itertools
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import HydraException
from omegaconf import OmegaConf

from optkit.errors import ConfigError
from optkit.hydra_errors import config_error_from_hydra, culprit
from optkit.hydra_private import BASIC_SWEEPER, compose_job

MAX_CHECKED_JOBS = 64  # larger sweeps check every value once instead of every combination


def job_overrides(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Each job's override list. Sweeps over choices and ranges are expanded (all
    combinations up to MAX_CHECKED_JOBS, else each value once); an interval, which only a
    sweeper such as Optuna samples (`interval(a, b)`, `tag(log, interval(a, b))`), is
    checked at both ends."""
    parsed: list[Override] = OverridesParser.create().parse_overrides(overrides)
    fixed: list[str] = []
    swept: list[list[str]] = []
    for override in parsed:
        if not (multirun and override.is_sweep_override()):
            fixed.append(override.input_line)
            continue
        key = override.get_key_element()
        if override.value_type == ValueType.INTERVAL_SWEEP:
            interval = override.value()
            swept.append([f"{key}={interval.start}", f"{key}={interval.end}"])
            continue
        swept.append([f"{key}={value}" for value in override.sweep_string_iterator()])
    if not swept:
        return [fixed]
    total = 1
    for values in swept:
        total *= len(values)
    if total <= MAX_CHECKED_JOBS:
        return [fixed + list(combo) for combo in itertools.product(*swept)]
    firsts = [values[0] for values in swept]
    jobs = []
    for i, values in enumerate(swept):
        for value in values:
            jobs.append(fixed + firsts[:i] + [value] + firsts[i + 1 :])
    return jobs


def sweep_jobs(hydra_app: Any, config_name: str, jobs: list[list[str]], overrides: list[str]) -> list[list[str]]:
    """The jobs of a sweep whose search space (also) lives in `hydra.sweeper.params` (the
    Optuna preset's, or the basic sweeper's): read there first, then the command line, an
    override of the same key replacing the entry, as Hydra's sweepers merge them. An
    interval asked of the basic sweeper, which cannot sample it, is an error here."""
    try:
        cfg = compose_job(hydra_app, config_name, jobs[0])
    except Exception as err:
        raise config_error_from_hydra(err, jobs[0], culprit(hydra_app, config_name, jobs[0])) from None
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    merged: dict[str, Override] = {}
    try:
        parser = OverridesParser.create()
        for line in [f"{key}={value}" for key, value in params.items()] + overrides:
            override = parser.parse_override(line)
            merged[override.get_key_element()] = override
    except HydraException as err:
        raise ConfigError("hydra.sweeper.params", str(err).strip().splitlines()[0]) from None
    if OmegaConf.select(cfg, "hydra.sweeper._target_") == BASIC_SWEEPER:
        for key, override in merged.items():
            if override.is_interval_sweep():
                raise ConfigError(key, "an interval needs a sampling sweeper (add hydra/sweeper=optuna_search); "
                                  "the basic sweeper takes a,b,c or range(start,stop,step)",
                                  override.input_line.partition("=")[2])
    return job_overrides([o.input_line for o in merged.values()], multirun=True) if params else jobs
