"""Choosing shipped options: the option of a group that sets most of the translated values
replaces them (`paramwise_cfg=dict(norm_decay_mult=0.)` reads `paramwise=no_norm_decay`)."""
from __future__ import annotations

from typing import Any

from optkit.from_mmcv.catalogue import option_file, options, same
from optkit.from_mmcv.translation import Path_, Translation

# Leaves that are whole dicts (their keys may hold dots: custom key `backbone.cls_token`).
DICT_LEAVES = {("paramwise", "custom_keys")}
# Options whose content the importer may select instead of writing the fields one by one.
MATCHED_GROUPS = ("paramwise", "grad")


def nest(values: dict[Path_, Any], group: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in values.items():
        if path[0] == group:
            node = out
            for part in path[1:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
    return out


def covers(option: Any, values: Any) -> bool:
    """Every value the option sets is in `values` (nested dicts compared key by key)."""
    if isinstance(option, dict):
        return isinstance(values, dict) and all(k in values and covers(v, values[k]) for k, v in option.items())
    return same(option, values)


def minus(values: dict[str, Any], option: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if k not in option:
            out[k] = v
        elif isinstance(v, dict) and isinstance(option[k], dict):
            rest = minus(v, option[k])
            if rest:
                out[k] = rest
    return out


def match_options(t: Translation) -> None:
    """Select the shipped option (conf/paramwise, conf/grad) that sets most of the values,
    so that `paramwise_cfg=dict(norm_decay_mult=0.)` reads `paramwise=no_norm_decay`."""
    for group in MATCHED_GROUPS:
        values = nest(t.values, group)
        if not values:
            continue
        best, best_size = None, 0
        for option in options(group):
            content = option_file(group, option)
            size = len(flatten((group,), content))
            if content and covers(content, values) and size > best_size:
                best, best_size = option, size
        if best is None:
            continue
        rest = minus(values, option_file(group, best))
        t.values = {path: v for path, v in t.values.items() if path[0] != group}
        t.added = {path for path in t.added if path[0] != group}
        t.options[group] = best
        for path, value in flatten((group,), rest):
            t.set(path, value, added=path in DICT_LEAVES)


def flatten(prefix: Path_, node: dict[str, Any]) -> list[tuple[Path_, Any]]:
    out = []
    for k, v in node.items():
        path = (*prefix, k)
        if isinstance(v, dict) and path not in DICT_LEAVES:
            out.extend(flatten(path, v))
        else:
            out.append((path, v))
    return out
