"""A `Translation` written out: an experiment file, or one line of command-line overrides.

Both say the same thing: `python train.py +experiment=NAME` with the file composes the
same config as `python train.py <the line>` (tests/test_from_mmcv.py composes both).
"""
from __future__ import annotations

import math
import re
import shlex
from typing import Any

import yaml

from optkit.from_mmcv.match import nest
from optkit.from_mmcv.translation import Path_, Translation

# conf/train.yaml's order of groups, then the top-level keys.
ORDER = ("model", "data", "optimizer", "schedule", "warmup", "momentum", "paramwise", "optimizer_constructor",
         "grad", "trainer", "logging", "custom_imports", "allow_failed_imports")
PLAIN_STRING = re.compile(r"[A-Za-z_][\w.]*")
RESERVED = {"null", "true", "false", "inf", "nan"}
DICT_KEY = re.compile(r"[\w.]+")


def rank(path: Path_) -> int:
    return ORDER.index(path[0]) if path[0] in ORDER else len(ORDER)


def report(t: Translation) -> list[str]:
    """The lines for stderr: what was not translated, then the caveats."""
    return [f"not translated: {line}" for line in t.skipped] + [f"note: {line}" for line in t.notes]


# --- command line ----------------------------------------------------------------------------------


def hydra_value(value: Any) -> str:
    """`value` in Hydra's override grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        if PLAIN_STRING.fullmatch(value) and value.lower() not in RESERVED:
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        for key in value:
            if not DICT_KEY.fullmatch(str(key)):
                raise ValueError(f"the key {key!r} cannot be written on the command line; use the YAML output")
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"cannot write {value!r} as an override")


def override_line(t: Translation) -> str:
    """`optimizer=sgd schedule=step optimizer.lr=0.1 ...`, quoted for a POSIX shell."""
    items = [f"{group}={option}" for group, option in sorted(t.options.items(), key=lambda item: rank((item[0],)))]
    for path, value in sorted(t.values.items(), key=lambda item: rank(item[0])):
        plus = "++" if path in t.added else ""
        items.append(f"{plus}{'.'.join(path)}={hydra_value(value)}")
    return " ".join(shlex.quote(item) for item in items)


# --- experiment file ---------------------------------------------------------------------------------


class Dumper(yaml.SafeDumper):
    """Lists of scalars in flow style (`step: [100, 150]`), everything else in block style."""


def represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, (list, dict)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


Dumper.add_representer(list, represent_list)


def experiment_yaml(t: Translation, use: str) -> str:
    """The experiment file (`# @package _global_`, options in `defaults`, then the fields),
    its header comment listing the report."""
    lines = ["# @package _global_", f"# Imported from {t.source} by optkit-from-mmcv. {use}"]
    for title, entries in (("Not translated", t.skipped), ("Notes", t.notes)):
        if entries:
            lines.append(f"# {title}:")
            lines.extend(f"#   {entry}" for entry in entries)
    lines.append("defaults:")
    for group, option in sorted(t.options.items(), key=lambda item: rank((item[0],))):
        lines.append(f"  - override /{group}: {option}")
    lines.append("  - _self_")
    body: dict[str, Any] = {}
    for path in sorted(t.values, key=rank):
        top = path[0]
        if len(path) == 1:
            body[top] = t.values[path]
        elif top not in body:
            body[top] = nest(t.values, top)
    text = "\n".join(lines) + "\n"
    if body:
        text += "\n" + yaml.dump(body, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=100)
    return text
