"""Every use of Hydra's private API (`hydra._internal`), in one place.

A Hydra upgrade may move or change any of these; this module is what to check then (the
tests of the config check, of `--help`, of import errors and of sweep_summary exercise each
one). Each function says what the public API lacks.
"""
from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any, Iterator, Optional

from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import DictConfig

# The `_target_` Hydra writes into `hydra.sweeper` for its basic sweeper: a private module
# path, and the only way to tell that sweeper (which cannot sample intervals) from Optuna's.
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`argv` read by Hydra's own command-line parser. `hydra.main` parses `sys.argv` itself
    and exposes no parser; the check before it must read the same flags (`-m`, `--cfg`,
    `--config-dir`, `--help`, ...) exactly as it will."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser().parse_args(argv)


@contextlib.contextmanager
def app(conf_dir: str, config_dir: Optional[str], task_name: str) -> Iterator[Any]:
    """A Hydra application on `conf_dir`, with `--config-dir` (`config_dir`) searched first as
    `hydra.main` does; the global Hydra state is cleared before and after. The public API
    (`initialize_config_dir` + `compose`) takes a single directory and re-initialises for
    every compose, while the check composes every job of a sweep on one repository."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path

    search_path = create_config_search_path(conf_dir)
    if config_dir is not None:
        search_path.prepend("command-line", f"file://{os.path.abspath(config_dir)}")
    GlobalHydra.instance().clear()
    try:
        yield Hydra.create_main_hydra2(task_name=task_name, config_search_path=search_path)
    finally:
        GlobalHydra.instance().clear()


def compose_job(hydra_app: Any, config_name: str, overrides: list[str]) -> DictConfig:
    """One job's config with its `hydra` node, as `hydra.main` composes it for a run (the
    public `compose` cannot be given the application made by `app`)."""
    return hydra_app.compose_config(config_name, overrides, run_mode=RunMode.RUN, with_log_configuration=False)


def locate(path: str) -> Any:
    """The object at import path `path`. The public `hydra.utils.get_object` calls this too,
    but first logs the import error over several lines, which optkit reports as one."""
    from hydra._internal.utils import _locate

    return _locate(path)


def basic_sweeper_jobs(overrides: list[str]) -> list[list[str]]:
    """The override list of each job, in job-number order, as Hydra's basic sweeper expands
    `overrides` (the numbering is the sweeper's own; no public API exposes it). Raises for
    what the basic sweeper cannot expand (an interval, ...)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(overrides), None)[0]
