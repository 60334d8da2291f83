"""optkit's exceptions. The entry points turn each into one line on stderr and an exit status.

A `ConfigError` reads
``optkit: config error: <key>: <problem> (got <value>; did you mean <nearest>?)``
and exits 2, so that a typo deep in a sweep is explained without a traceback; a run stopped
by a non-finite loss (`NonFiniteError`) exits 3; a file that cannot be written
(`OutputError`: no space, read-only, missing parent, permission) exits 4, naming the path
and the system's reason. `entry_point` gives every tool the same contract
(docs/robustness.md lists the statuses).
"""
from __future__ import annotations

import contextlib
import difflib
import functools
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NoReturn, Optional, TypeVar

EXIT_CONFIG_ERROR = 2
EXIT_NONFINITE = 3
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C'd program
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader went away (`| head`), as for any Unix tool
T = TypeVar("T")
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


class OutputError(OptkitError):
    """A file or directory optkit writes (run directory, checkpoint, log, PNG, JSON, CSV)
    cannot be written: `<path>: <the system's reason>`."""

    label = "cannot write"
    exit_code = EXIT_OUTPUT

    def __init__(self, path: Any, reason: str) -> None:
        super().__init__(f"{path}: {reason}")

    @classmethod
    def from_os(cls, err: OSError, path: Any = None) -> "OutputError":
        """The path the system names (the deepest one: a missing parent is named by the file
        under it) or, for a write to an open file, `path`."""
        return cls(err.filename if err.filename is not None else path, err.strerror or str(err))


@contextlib.contextmanager
def writing(path: Any) -> Iterator[None]:
    """Writing `path`: an OSError becomes one `OutputError` naming it."""
    try:
        yield
    except OSError as err:
        raise OutputError.from_os(err, path) from None


def check_output(key: str, value: Optional[str]) -> Optional[Path]:
    """A tool's output argument (`out=`, `json=`): a file name whose directory exists,
    checked before any work (`ConfigError` under `key`); None when not given."""
    if value is None:
        return None
    if not value.strip() or value.endswith(("/", os.sep)):
        raise ConfigError(key, "must name a file", value)
    path = Path(value)
    if not path.parent.is_dir():
        raise ConfigError(key, "no such directory", str(path.parent))
    return path


def entry_point(main: Callable[..., T]) -> Callable[..., T]:
    """The error contract of every command: an `OptkitError` (and an OSError, as an
    `OutputError`) is one `optkit: ...` line and its exit status; Ctrl-C is one line and 130;
    a closed stdout (`| head`) ends quietly with 141, not a BrokenPipeError traceback."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return main(*args, **kwargs)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's exit flush must not fail again
            sys.exit(EXIT_BROKEN_PIPE)
        except OptkitError as err:
            exit_error(err)
        except OSError as err:
            exit_error(OutputError.from_os(err))
        except KeyboardInterrupt:
            exit_stopped("optkit: interrupted: SIGINT")

    return wrapper


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


def exit_stopped(line: Optional[str], code: int = EXIT_INTERRUPTED) -> NoReturn:
    """A run stopped by a signal or a Ctrl-C: its one line (None on the ranks that do not
    speak) and `code`. A Ctrl-C while the line is printed is ignored and one during the
    shutdown after it (DataLoader workers, TensorBoard's writer, finalizers) exits at once
    with 130: Python's handler would raise a KeyboardInterrupt there and print a traceback."""
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if line is not None:
        print(line, file=sys.stderr)
    if main_thread:
        signal.signal(signal.SIGINT, _exit_at_once)
    sys.exit(code)


def _exit_at_once(signum: int, frame: Any) -> None:
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def exit_config_error(err: ConfigError) -> NoReturn:
    exit_error(err)
