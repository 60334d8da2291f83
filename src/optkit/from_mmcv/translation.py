"""The record of one import: the options and fields a config becomes, and the report.

Also the helpers every key handler reads values with (`checked_dict`, `take`,
`evaluated`), so that a value the reader could not evaluate is reported in one way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from optkit.from_mmcv.read import Unevaluable

Path_ = tuple[str, ...]


@dataclass
class Translation:
    """What an MMCV config becomes: options per group, field values, and the report."""

    source: str
    options: dict[str, str] = field(default_factory=dict)  # group → option
    values: dict[Path_, Any] = field(default_factory=dict)  # field path → value
    added: set[Path_] = field(default_factory=set)  # paths the option may lack ('++': add or override)
    notes: list[str] = field(default_factory=list)  # "key: caveat"
    skipped: list[str] = field(default_factory=list)  # "key: why it is not translated"
    dropped: list[str] = field(default_factory=list)  # the skipped lines that are settings (MMEngine: exit 1)

    def set(self, path: Path_, value: Any, added: bool = False) -> None:
        self.values[path] = plain(value)
        if added:
            self.added.add(path)

    def skip(self, key: str, why: str) -> None:
        self.skipped.append(f"{key}: {why}")

    def note(self, key: str, text: str) -> None:
        self.notes.append(f"{key}: {text}")


def plain(value: Any) -> Any:
    """Tuples as lists (YAML and Hydra have lists), recursively."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def unevaluable_in(value: Any) -> Optional[Unevaluable]:
    """The first value inside `value` that the reader could not evaluate, if any."""
    if isinstance(value, Unevaluable):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        found = unevaluable_in(item)
        if found is not None:
            return found
    return None


def fmt(value: Any) -> str:
    text = repr(plain(value))
    return text if len(text) <= 60 else text[:57] + "..."


ABSENT = Unevaluable("", "absent")  # a key the config does not have


def checked_dict(key: str, value: Any, t: Translation) -> Optional[dict[str, Any]]:
    """`value` if it is a dict (None and absent: None); anything else is reported."""
    if value is ABSENT or value is None:
        return None
    if isinstance(value, Unevaluable):
        t.skip(key, f"cannot evaluate {value.source} ({value.reason})")
        return None
    if not isinstance(value, dict):
        t.skip(key, f"MMCV expects a dict (got {fmt(value)})")
        return None
    return dict(value)


def take(key: str, d: dict[str, Any], name: str, t: Translation) -> Any:
    """Pop `name` from `d`; an unevaluable value is reported and read as absent."""
    value = d.pop(name, ABSENT)
    bad = None if value is ABSENT else unevaluable_in(value)
    if bad is not None:
        t.skip(f"{key}.{name}", f"cannot evaluate {bad.source} ({bad.reason})")
        return ABSENT
    return value


def evaluated(key: str, d: dict[str, Any], t: Translation) -> Iterator[tuple[str, Any]]:
    """Each (name, value) of `d`, popped; values that cannot be evaluated are reported instead."""
    for name in list(d):
        value = take(key, d, name, t)
        if value is not ABSENT:
            yield name, value

