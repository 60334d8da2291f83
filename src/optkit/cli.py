"""Entry points: `train.py` / `optkit-train`, and the config check that runs before Hydra.

Hydra reports a bad override with a multi-line message and exit status 1, after it may
already have created the run directory. optkit composes every job of the command line
first (each combination of a `-m` sweep) and validates it, so a typo anywhere prints one
line (`optkit: config error: <key>: <problem> (got ...; did you mean ...?)`) and exits 2
before Hydra touches the disk. `--help`, `--hydra-help`, `--info` and shell completion
skip the check; `--cfg` only composes (so the config can always be printed).
"""
from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import re
import string
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import hydra
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import HydraException, MissingConfigException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from optkit.config import CONF_DIR
from optkit.errors import (EXIT_INTERRUPTED, ConfigError, NonFiniteError, OptkitError, OutputError, entry_point,
                           exit_error)

CONFIG_NAME = "train"
MAX_CHECKED_JOBS = 64  # larger sweeps check every value once instead of every combination
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def list_groups(conf_dir=CONF_DIR) -> str:
    """The `--help` menu: each config group under conf/ with its options, then optkit's
    launcher and sweeper presets (Hydra's own are listed by --hydra-help)."""
    groups = [p for p in conf_dir.iterdir() if p.is_dir() and p.name != "hydra"]
    groups += [p for p in (conf_dir / "hydra").iterdir() if p.is_dir() and p.name != "help"]
    lines = []
    for group in sorted(groups, key=lambda p: (p.parent != conf_dir, p.name)):
        options = sorted(p.stem for p in group.glob("*.yaml"))
        name = group.relative_to(conf_dir).as_posix()
        prefix = "+" if name == "experiment" else ""
        lines.append(f"  {prefix}{name}: {', '.join(options)}")
    return "\n".join(lines)


OmegaConf.register_new_resolver("optkit_groups", list_groups, replace=True)


# --- turning Hydra's exceptions into one line -----------------------------------------------


def culprit(app: Any, config_name: str, job: list[str]) -> Optional[str]:
    """The first override of `job` that makes composition fail (error path only)."""
    for i in range(len(job)):
        try:
            app.compose_config(config_name, job[: i + 1], run_mode=RunMode.RUN, with_log_configuration=False)
        except Exception:
            return job[i]
    return None


def config_error_from_hydra(err: Exception, overrides: list[str], bad: Optional[str] = None) -> ConfigError:
    """The `ConfigError` that says what Hydra's `err` says, naming the key."""
    if isinstance(err, MissingConfigException):
        missing = str(err.missing_cfg_file or "")
        group, _, option = missing.rpartition("/")
        return ConfigError(group or "config", "unknown option", option, err.options or [])
    cause = err.__cause__ or err.__context__
    if isinstance(cause, OmegaConfBaseException) or isinstance(err, OmegaConfBaseException):
        oc = cause if isinstance(cause, OmegaConfBaseException) else err
        key = oc.full_key or str(getattr(oc, "key", "") or "config")
        value = override_value(key, overrides)
        parent = getattr(oc, "parent_node", None)
        text = str(oc.msg if hasattr(oc, "msg") else oc).splitlines()[0]
        if "not in" in text or "not in struct" in text:
            choices = [str(k) for k in parent.keys()] if isinstance(parent, DictConfig) else []
            return ConfigError(key, f"unknown key (a new key is added with +{key}=...)", key.rsplit(".", 1)[-1],
                               choices)
        return ConfigError(key, text, value)
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if text.startswith("Could not override '"):
        key = text.split("'")[1]
        return ConfigError(key, "cannot be overridden here", override_value(key, overrides))
    if bad is not None:
        key, _, value = bad.lstrip("+~").partition("=")
        if "NoneType" in text:
            return ConfigError(key, "its parent is null here; set the whole node (e.g. grad=clip)", value)
        return ConfigError(key, text, value)
    return ConfigError("command line", text)


def override_value(key: str, overrides: list[str]) -> Any:
    for item in overrides:
        name, sep, value = item.lstrip("+~").partition("=")
        if sep and name == key:
            return value
    return None


# --- which jobs a command line asks for ------------------------------------------------------


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


def check_command_line(argv: list[str], validate_jobs: bool = True) -> Optional[DictConfig]:
    """Compose (and validate) every job of `argv`; raise `ConfigError` on the first problem.
    Returns the first job's config (with its `hydra` node), or None when `argv` trains
    nothing (`--help`, `--info`, `--cfg`, shell completion)."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path, get_args_parser

    args = get_args_parser().parse_args(argv)
    if args.help or args.hydra_help or args.shell_completion or args.info is not None:
        return None
    if args.cfg is not None and args.multirun:  # Hydra raises a ValueError with a traceback
        raise ConfigError("--cfg", "prints one job's config and cannot be combined with -m/--multirun "
                                   "(give one value per key, without -m)")
    search_path = create_config_search_path(str(CONF_DIR))
    if args.config_dir is not None:
        search_path.prepend("command-line", f"file://{os.path.abspath(args.config_dir)}")
    config_name = args.config_name or CONFIG_NAME
    overrides = list(args.overrides)
    try:
        jobs = job_overrides(overrides, args.multirun)
    except HydraException as err:
        raise ConfigError("command line", str(err).strip().splitlines()[0]) from None
    GlobalHydra.instance().clear()
    app = Hydra.create_main_hydra2(task_name=CONFIG_NAME, config_search_path=search_path)
    first: Optional[DictConfig] = None
    try:
        if args.multirun:
            jobs = sweep_jobs(app, config_name, jobs, overrides)
        for job in jobs:
            try:
                cfg = app.compose_config(config_name, job, run_mode=RunMode.RUN, with_log_configuration=False)
            except Exception as err:  # Hydra, OmegaConf, or their internal assertions
                raise config_error_from_hydra(err, job, culprit(app, config_name, job)) from None
            if validate_jobs and args.cfg is None:
                from optkit import validate

                validate.check(cfg)
            first = cfg if first is None else first
    finally:
        GlobalHydra.instance().clear()
    return None if args.cfg is not None else first


def compose(overrides: list[str]) -> DictConfig:
    """train.py's config for these overrides (no sweeps), for the tools that read a config
    without training (plot_lr, lr_find, benchmarks): composed after the same check, so a bad
    override is the same one line. Validation against the data is the tool's business."""
    from hydra import compose as hydra_compose, initialize_config_dir

    check_command_line(overrides, validate_jobs=False)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name=CONFIG_NAME):
        return hydra_compose(CONFIG_NAME, overrides=overrides)


# --- several processes, one run directory ----------------------------------------------------

NOW = re.compile(r"\$\{now:([^}]*)\}")


def shared_output_dir(cfg: DictConfig) -> list[str]:
    """Overrides that give every process of a torchrun / `srun` launch rank 0's output
    directory. Each process runs Hydra itself and would resolve `${now:...}` in
    `hydra.run.dir` / `hydra.sweep.dir` with its own clock (torchrun starts them a moment
    apart), so the process group is joined before Hydra starts and rank 0's time is used
    everywhere. Only rank 0 writes `.hydra/` (`hydra.output_subdir=null` elsewhere); it
    also writes every log and checkpoint, the others read `last.pt` to resume."""
    from optkit import distributed

    info = distributed.detect()
    if not info.enabled:
        return []
    distributed.init(info)
    now = distributed.broadcast(datetime.datetime.now(), info)
    overrides = []
    for mode in ("run", "sweep"):
        pattern = OmegaConf.to_container(cfg.hydra[mode], resolve=False)["dir"]
        if isinstance(pattern, str) and NOW.search(pattern):
            fixed = NOW.sub(lambda m: now.strftime(m.group(1)), pattern).replace("'", "\\'")
            overrides.append(f"hydra.{mode}.dir='{fixed}'")
    if not info.is_main:
        overrides.append("hydra.output_subdir=null")
    return overrides


def add_overrides(argv: list[str], extra: list[str]) -> list[str]:
    """`argv` with `extra` after its last override (Hydra's parser wants them contiguous)."""
    from hydra._internal.utils import get_args_parser

    given = list(get_args_parser().parse_args(argv).overrides)
    for i in range(len(argv) - len(given), -1, -1):
        if given and argv[i : i + len(given)] == given:
            return argv[: i + len(given)] + extra + argv[i + len(given) :]
    return argv + extra


def sweep_jobs(app: Any, config_name: str, jobs: list[list[str]], overrides: list[str]) -> list[list[str]]:
    """The jobs of a sweep whose search space (also) lives in `hydra.sweeper.params` (the
    Optuna preset's, or the basic sweeper's): read there first, then the command line, an
    override of the same key replacing the entry, as Hydra's sweepers merge them. An
    interval asked of the basic sweeper, which cannot sample it, is an error here."""
    try:
        cfg = app.compose_config(config_name, jobs[0], run_mode=RunMode.RUN, with_log_configuration=False)
    except Exception as err:
        raise config_error_from_hydra(err, jobs[0], culprit(app, config_name, jobs[0])) from None
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


# --- entry points ---------------------------------------------------------------------------


def print_help(argv: list[str]) -> bool:
    """`--help` from Hydra's own help template (conf/hydra/help/optkit.yaml) and the composed
    config, as Hydra prints it, minus Hydra's listing of every config group (its
    `$APP_CONFIG_GROUPS`, which the template does not use, costs ~0.8 s with optkit's schemas:
    one deep copy of the config repository per group). False when `argv` asks for no help."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path, get_args_parser

    args = get_args_parser().parse_args(argv)
    if not args.help:
        return False
    search_path = create_config_search_path(str(CONF_DIR))
    if args.config_dir is not None:
        search_path.prepend("command-line", f"file://{os.path.abspath(args.config_dir)}")
    GlobalHydra.instance().clear()
    app = Hydra.create_main_hydra2(task_name=CONFIG_NAME, config_search_path=search_path)
    try:
        cfg = app.compose_config(args.config_name or CONFIG_NAME, list(args.overrides), run_mode=RunMode.RUN,
                                 with_log_configuration=False)
    except Exception as err:
        raise config_error_from_hydra(err, list(args.overrides)) from None
    finally:
        GlobalHydra.instance().clear()
    template = string.Template(cfg.hydra.help.template)
    with open_dict(cfg):
        del cfg["hydra"]
    print(template.safe_substitute(CONFIG=OmegaConf.to_yaml(cfg, resolve=args.resolve)))
    return True


def checked(main: Callable[[], Any]) -> Callable[[], Any]:
    """Run the config check on sys.argv, then `main` (Hydra), under the error contract of
    `errors.entry_point` (ConfigError → one line, exit 2; `--help | head` ends quietly)."""

    @entry_point
    def wrapper() -> Any:
        if print_help(sys.argv[1:]):
            return None
        cfg = check_command_line(sys.argv[1:])
        if cfg is not None:
            sys.argv[1:] = add_overrides(sys.argv[1:], shared_output_dir(cfg))
        return main()

    return wrapper


@hydra.main(config_path=str(CONF_DIR), config_name=CONFIG_NAME, version_base="1.3")
def train_task(cfg: DictConfig) -> Optional[float]:
    from optkit.distributed import detect
    from optkit.logging import append_event
    from optkit.preempt import Aborted, Preempted
    from optkit.train import output_dir, run

    try:
        return run(cfg)
    except Preempted as stop:
        if detect().is_main:
            print(f"optkit: {stop.label}: {stop.message()}; to resume, {resume_advice()}", file=sys.stderr)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt as stop:  # Ctrl-C before the loop took SIGINT over, or a second one
        if detect().is_main:
            what = ("a second SIGINT stopped the run at once" if isinstance(stop, Aborted)
                    else "SIGINT before training started")
            print(f"optkit: interrupted: {what}, the last checkpoint is kept; to resume, {resume_advice()}",
                  file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as err:
        if isinstance(err, OSError):  # a write no call site named (they raise OutputError)
            err = OutputError.from_os(err, output_dir())
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            if isinstance(err, NonFiniteError) and not detect().is_main:
                sys.exit(err.exit_code)  # every rank stops on it (agreed); rank 0 says so
            if isinstance(err, OptkitError):
                exit_error(err)  # a config error found on the training machine, a non-finite stop
            raise
        if detect().is_main:  # the job's error line in its metrics.jsonl, for scripts/sweep_summary.py
            with contextlib.suppress(OutputError):  # the disk that failed the job may refuse it too
                append_event(output_dir(), "error", error=one_line(err))
        raise err  # Hydra marks this job failed and runs the others


def resume_advice() -> str:
    """The command that continues a stopped run: a single run resumes in its run directory;
    a `-m` sweep is run again, whole, in its sweep directory, where each job resumes from its
    own `last.pt` and the finished ones end at once (a run directory of one job would start a
    new sweep)."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return f"run the same -m command with hydra.sweep.dir={Path(hydra_cfg.sweep.dir).absolute()}"
    from optkit.train import output_dir

    return f"run the same command with hydra.run.dir={output_dir()}"


def one_line(err: Exception) -> str:
    if isinstance(err, OptkitError):
        return f"{err.label}: {err.message()}"
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


train_main = checked(train_task)


def plot_lr_main() -> None:
    from optkit.plot_lr import main

    main()
