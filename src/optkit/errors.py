"""optkit's exceptions. The entry points turn each into one line on stderr and an exit status.

A `ConfigError` reads
``optkit: config error: <key>: <problem> (got <value>; did you mean <nearest>?)``
and exits 2, so that a typo deep in a sweep is explained without a traceback; a run stopped
by a non-finite loss (`NonFiniteError`) exits 3.
"""
from __future__ import annotations

import contextlib
import difflib
import sys
from typing import Any, Iterable, Iterator, NoReturn

EXIT_CONFIG_ERROR = 2
EXIT_NONFINITE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C'd program
_UNSET = object()
_warned: set[str] = set()
_muted = [0]  # > 0 inside `muted()`


class OptkitError(Exception):
    """Base class of every error optkit raises on purpose: `exit_error` prints
    `optkit: <label>: <message>` and exits with `exit_code`."""

    label = "error"
    exit_code = 1

    def message(self) -> str:
        return str(self)


class ConfigError(OptkitError):
    """A configuration value that optkit cannot run with."""

    label = "config error"
    exit_code = EXIT_CONFIG_ERROR

    def __init__(
        self,
        key: str,
        problem: str,
        got: Any = _UNSET,
        choices: Iterable[str] = (),
    ) -> None:
        self.key = key
        self.problem = problem
        self.got = got
        self.choices = [str(c) for c in choices]
        super().__init__(self.message())

    def under(self, prefix: str) -> "ConfigError":
        """The same error with its key placed under a config node (`min_lr` → `schedule.min_lr`)."""
        return ConfigError(f"{prefix}.{self.key}", self.problem, self.got, self.choices)

    def message(self) -> str:
        details = []
        if self.got is not _UNSET:
            details.append(f"got {format_value(self.got)}")
        if self.choices:
            close = nearest(self.got if self.got is not _UNSET else self.key, self.choices)
            details.append(f"did you mean {', '.join(close)}?")
        tail = f" ({'; '.join(details)})" if details else ""
        return f"{self.key}: {self.problem}{tail}"


class CheckpointError(OptkitError):
    """A checkpoint that cannot be loaded or does not fit the current run."""

    label = "checkpoint error"
    exit_code = EXIT_CONFIG_ERROR


class NonFiniteError(OptkitError):
    """Training stopped on a non-finite loss or gradient (`trainer.nonfinite`), after
    writing last.pt from before the bad update."""

    label = "stopped"
    exit_code = EXIT_NONFINITE


def format_value(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def nearest(value: Any, choices: Iterable[str], n: int = 3) -> list[str]:
    """The closest valid names to `value`; all of them (up to `n`) when none is close."""
    choices = list(choices)
    close = difflib.get_close_matches(str(value), choices, n=n, cutoff=0.5)
    return close or choices[:n] + (["..."] if len(choices) > n else [])


def warn(text: str) -> None:
    """A legal but suspicious setting: one line on stderr, and the run goes on. Each text
    is printed once per process: the config is checked before Hydra starts and again when
    the run builds it, and the user should read each warning once."""
    if text in _warned or _muted[0]:
        return
    _warned.add(text)
    print(f"optkit: warning: {text}", file=sys.stderr)


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """No warnings inside: for building an old run's objects only to compare them."""
    _muted[0] += 1
    try:
        yield
    finally:
        _muted[0] -= 1


def forget_warnings() -> None:
    """Print every warning again (tests that each expect their own)."""
    _warned.clear()


def exit_error(err: OptkitError) -> NoReturn:
    print(f"optkit: {err.label}: {err.message()}", file=sys.stderr)
    sys.exit(err.exit_code)


def exit_config_error(err: ConfigError) -> NoReturn:
    exit_error(err)
