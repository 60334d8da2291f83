"""Entry points: `train.py` / `optkit-train`: `--help`, the config check of every job
(`optkit.compose.check_command_line`), one run directory for a multi-process launch, then
Hydra's `main` with the training task.

The checked config is not handed to Hydra: `hydra.main` composes the run's config again
(public API; handing it a config would mean driving Hydra's run and multirun internals,
which this package keeps to `optkit.hydra_private`'s few calls).
"""
from __future__ import annotations

import datetime
import re
import string
import sys
from typing import Any, Callable, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from optkit.compose import CONFIG_NAME, check_command_line
from optkit.config import CONF_DIR, CONF_SEARCH_PATH
from optkit.errors import ConfigError, OptkitError, exit_config_error, exit_error
from optkit.hydra_errors import config_error_from_hydra
from optkit.hydra_private import app, compose_job, parse_args
from optkit.jobs import job_overrides  # noqa: F401  (optkit.cli.job_overrides, as before the split)


def list_groups(conf_dir=CONF_DIR) -> str:
    """The `--help` menu: each config group under conf/ with its options, then optkit's
    launcher and sweeper presets (Hydra's own are listed by --hydra-help)."""
    groups = [p for p in conf_dir.iterdir() if p.is_dir() and p.name not in ("hydra", "__pycache__")]
    groups += [p for p in (conf_dir / "hydra").iterdir() if p.is_dir() and p.name != "help"]
    lines = []
    for group in sorted(groups, key=lambda p: (p.parent != conf_dir, p.name)):
        options = sorted(p.stem for p in group.glob("*.yaml"))
        name = group.relative_to(conf_dir).as_posix()
        prefix = "+" if name == "experiment" else ""
        lines.append(f"  {prefix}{name}: {', '.join(options)}")
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
    template = string.Template(cfg.hydra.help.template)
    with open_dict(cfg):
        del cfg["hydra"]
    print(template.safe_substitute(CONFIG=OmegaConf.to_yaml(cfg, resolve=args.resolve)))
    return True


def checked(main: Callable[[], Any]) -> Callable[[], Any]:
    """Run the config check on sys.argv, then `main` (Hydra). ConfigError → one line, exit 2."""

    def wrapper() -> Any:
        try:
            if print_help(sys.argv[1:]):
                return None
            cfg = check_command_line(sys.argv[1:])
            if cfg is not None:
                sys.argv[1:] = add_overrides(sys.argv[1:], shared_output_dir(cfg))
            return main()
        except ConfigError as err:
            exit_config_error(err)

    return wrapper


@hydra.main(config_path=CONF_SEARCH_PATH, config_name=CONFIG_NAME, version_base="1.3")
def train_task(cfg: DictConfig) -> Optional[float]:
    from optkit.distributed import detect
    from optkit.logging import append_event
    from optkit.preempt import Preempted
    from optkit.train import output_dir, run

    try:
        return run(cfg)
    except Preempted as stop:
        if detect().is_main:
            print(f"optkit: {stop.label}: {stop.message()}; to resume, run the same command with "
                  f"hydra.run.dir={output_dir()}", file=sys.stderr)
        sys.exit(stop.exit_code)
    except Exception as err:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            if isinstance(err, OptkitError):
                exit_error(err)  # a config error found on the training machine, a non-finite stop
            raise
        if detect().is_main:  # the job's error line in its metrics.jsonl, for scripts/sweep_summary.py
            append_event(output_dir(), "error", error=one_line(err))
        raise  # Hydra marks this job failed and runs the others


def one_line(err: Exception) -> str:
    if isinstance(err, OptkitError):
        return f"{err.label}: {err.message()}"
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


train_main = checked(train_task)
