"""Entry points: `train.py` / `optkit-train`: `--help`, the config check of every job
(`optkit.compose.check_command_line`), one run directory for a multi-process launch, then
Hydra's `main` with the training task.

The checked config is not handed to Hydra: `hydra.main` composes the run's config again
(public API; handing it a config would mean driving Hydra's run and multirun internals,
which this package keeps to `optkit.hydra_private`'s few calls).
"""
from __future__ import annotations

import contextlib
import datetime
import re
import string
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from optkit.compose import CONFIG_NAME, check_command_line
from optkit.config import CONF_DIR, CONF_SEARCH_PATH
from optkit.errors import NonFiniteError, OptkitError, OutputError, entry_point, exit_error, exit_stopped
from optkit.hydra_errors import config_error_from_hydra
from optkit.hydra_private import app, compose_job, parse_args
from optkit.jobs import job_overrides  # noqa: F401  (optkit.cli.job_overrides, as before the split)


def list_groups(conf_dirs: Sequence[Path] = (CONF_DIR,)) -> str:
    """The `--help` menu: each config group with its options, from optkit's conf/ and a
    user's `--config-dir` (whose new groups and options are listed beside optkit's), then the
    launcher and sweeper presets (Hydra's own are listed by --hydra-help)."""
    options: dict[str, set[str]] = {}
    for conf_dir in conf_dirs:
        groups = [p for p in conf_dir.iterdir() if p.is_dir() and p.name not in ("hydra", "__pycache__")]
        if (conf_dir / "hydra").is_dir():
            groups += [p for p in (conf_dir / "hydra").iterdir() if p.is_dir() and p.name != "help"]
        for group in groups:
            name = group.relative_to(conf_dir).as_posix()
            options.setdefault(name, set()).update(p.stem for p in group.glob("*.yaml"))
    lines = []
    for name in sorted(options, key=lambda n: (n.startswith("hydra/"), n)):
        prefix = "+" if name == "experiment" else ""
        lines.append(f"  {prefix}{name}: {', '.join(sorted(options[name]))}")
    return "\n".join(lines)


OmegaConf.register_new_resolver("optkit_groups", list_groups, replace=True)


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
    given = list(parse_args(argv).overrides)
    for i in range(len(argv) - len(given), -1, -1):
        if given and argv[i : i + len(given)] == given:
            return argv[: i + len(given)] + extra + argv[i + len(given) :]
    return argv + extra


# --- entry points ---------------------------------------------------------------------------


def print_help(argv: list[str]) -> bool:
    """`--help` from Hydra's own help template (conf/hydra/help/optkit.yaml) and the composed
    config, as Hydra prints it, minus Hydra's listing of every config group (its
    `$APP_CONFIG_GROUPS`, which the template does not use, costs ~0.8 s with optkit's schemas:
    one deep copy of the config repository per group). False when `argv` asks for no help."""
    args = parse_args(argv)
    if not args.help:
        return False
    with app(CONF_SEARCH_PATH, args.config_dir, CONFIG_NAME) as hydra_app:
        try:
            cfg = compose_job(hydra_app, args.config_name or CONFIG_NAME, list(args.overrides))
        except Exception as err:
            raise config_error_from_hydra(err, list(args.overrides)) from None
    dirs = [CONF_DIR] + ([Path(args.config_dir)] if args.config_dir is not None else [])
    OmegaConf.register_new_resolver("optkit_groups", lambda: list_groups(dirs), replace=True)
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


@hydra.main(config_path=CONF_SEARCH_PATH, config_name=CONFIG_NAME, version_base="1.3")
def train_task(cfg: DictConfig) -> Optional[float]:
    from optkit.distributed import detect
    from optkit.logging import append_event
    from optkit.preempt import Aborted, Preempted
    from optkit.train import output_dir, run

    try:
        return run(cfg)
    except Preempted as stop:
        line = f"optkit: {stop.label}: {stop.message()}; to resume, {resume_advice()}"
        exit_stopped(line if detect().is_main else None, stop.exit_code)
    except KeyboardInterrupt as stop:  # Ctrl-C before the loop took SIGINT over, or a second one
        what = ("a second SIGINT stopped the run at once" if isinstance(stop, Aborted)
                else "SIGINT before training started")
        line = f"optkit: interrupted: {what}, the last checkpoint is kept; to resume, {resume_advice()}"
        exit_stopped(line if detect().is_main else None)
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
