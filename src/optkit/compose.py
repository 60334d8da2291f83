"""The config check that runs before Hydra, and `compose` for the tools.

Hydra reports a bad override with a multi-line message and exit status 1, after it may
already have created the run directory. optkit composes every job of the command line
first (each combination of a `-m` sweep, `optkit.jobs`) and validates it, so a typo
anywhere prints one line (`optkit: config error: <key>: <problem> (got ...; did you
mean ...?)`) and exits 2 before Hydra touches the disk. `--help`, `--hydra-help`, `--info`
and shell completion skip the check; `--cfg` only composes (so the config can always be
printed). The tools that read a config without training (plot_lr, lr_find, benchmarks)
compose through the same check.
"""
from __future__ import annotations

from typing import Any, Optional

from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict

from optkit.config import CONF_SEARCH_PATH
from optkit.errors import ConfigError
from optkit.hydra_errors import config_error_from_hydra, culprit
from optkit.hydra_private import app, compose_job, parse_args
from optkit.jobs import job_overrides, sweep_jobs

CONFIG_NAME = "train"


def check_command_line(argv: list[str], validate_jobs: bool = True) -> Optional[DictConfig]:
    """Compose (and validate) every job of `argv`; raise `ConfigError` on the first problem.
    Returns the first job's config (with its `hydra` node), or None when `argv` trains
    nothing (`--help`, `--info`, `--cfg`, shell completion)."""
    args = parse_args(argv)
    if args.help or args.hydra_help or args.shell_completion or args.info is not None:
        return None
    if args.cfg is not None and args.multirun:  # Hydra raises a ValueError with a traceback
        raise ConfigError("--cfg", "prints one job's config and cannot be combined with -m/--multirun "
                                   "(give one value per key, without -m)")
    config_name = args.config_name or CONFIG_NAME
    overrides = list(args.overrides)
    try:
        jobs = job_overrides(overrides, args.multirun)
    except HydraException as err:
        raise ConfigError("command line", str(err).strip().splitlines()[0]) from None
    first: Optional[DictConfig] = None
    with app(CONF_SEARCH_PATH, args.config_dir, CONFIG_NAME) as hydra_app:
        if args.multirun:
            jobs = sweep_jobs(hydra_app, config_name, jobs, overrides)
        for job in jobs:
            try:
                cfg = compose_job(hydra_app, config_name, job)
            except Exception as err:  # Hydra, OmegaConf, or their internal assertions
                raise config_error_from_hydra(err, job, culprit(hydra_app, config_name, job)) from None
            if validate_jobs and args.cfg is None:
                from optkit import validate

                validate.check(cfg)
            first = cfg if first is None else first
    return None if args.cfg is not None else first


def compose(overrides: list[str]) -> DictConfig:
    """train.py's config for these overrides (no sweeps), for the tools that read a config
    without training (plot_lr, lr_find, benchmarks): composed after the same check, so a bad
    override is the same one line. Validation against the data is the tool's business.
    The check's own compose is the result (Hydra's public `compose` makes the same config,
    without the `hydra` node), unless `overrides` hold a flag such as `--help`, for which the
    check composes nothing and Hydra's `compose` says what it makes of it."""
    cfg = check_command_line(overrides, validate_jobs=False)
    if cfg is None:
        from hydra import compose as hydra_compose, initialize_config_module

        with initialize_config_module(config_module=CONF_SEARCH_PATH.removeprefix("pkg://"), version_base="1.3",
                                      job_name=CONFIG_NAME):
            return hydra_compose(CONFIG_NAME, overrides=overrides)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def default_config() -> dict[str, Any]:
    """train.py's config with no overrides, resolved (without the `hydra` node): what a key
    holds in a run that does not set it. Inside train.py's `hydra.main` the running
    application composes it (same search path, `--config-dir` included)."""
    from hydra import compose as hydra_compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    if GlobalHydra.instance().is_initialized():
        cfg = hydra_compose(CONFIG_NAME)
    else:
        with initialize_config_module(config_module=CONF_SEARCH_PATH.removeprefix("pkg://"), version_base="1.3",
                                      job_name=CONFIG_NAME):
            cfg = hydra_compose(CONFIG_NAME)
    return OmegaConf.to_container(cfg, resolve=True)
