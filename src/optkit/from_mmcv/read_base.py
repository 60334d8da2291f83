"""MMEngine's new config format, read without running it (`mmengine.config.Config`, 0.10.7).

A new-style file inherits with Python imports inside `with read_base():` and merges with
`.update(...)`:

    with read_base():
        from .._base_.schedules.imagenet_bs256 import *
    optim_wrapper.update(optimizer=dict(lr=4e-3), clip_grad=None)

- Each `from <relative module> import *` binds every config key of that file (read as any
  config, its own bases included); `import a, b` binds those keys only. Modules are resolved
  relative to the file (`..` = its parent directory), as MMEngine's `read_base` does; an
  absolute module needs its package installed and is refused.
- `name.update(...)` is `ConfigDict.update`: a dict value merges into a dict, key by key and
  recursively; anything else replaces. Plain assignment replaces the inherited value.
- `type=SGD` with `SGD` imported (`from torch.optim import SGD`) stays what the reader makes
  of an import (an `Unevaluable` naming the class and its module); the translator reads the
  class name from it.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Callable

READ_BASE = "read_base"


def is_read_base(stmt: ast.stmt) -> bool:
    """`with read_base():`"""
    return (isinstance(stmt, ast.With) and len(stmt.items) == 1 and isinstance(stmt.items[0].context_expr, ast.Call)
            and isinstance(stmt.items[0].context_expr.func, ast.Name)
            and stmt.items[0].context_expr.func.id == READ_BASE)


def base_names(stmt: ast.With, path: Path, read: Callable[[Path], dict[str, Any]],
               fail: Callable[[int, str], Exception]) -> dict[str, Any]:
    """The names the `with read_base():` block binds, each base file read with `read`."""
    names: dict[str, Any] = {}
    for item in stmt.body:
        if not isinstance(item, ast.ImportFrom):
            raise fail(item.lineno, "only `from .base import ...` statements may stand inside read_base()")
        if item.level == 0:
            raise fail(item.lineno, f"read_base() imports {item.module} by package name; the importer reads "
                       "relative imports only (MMEngine needs the package installed)")
        folder = path.parent
        for _ in range(item.level - 1):
            folder = folder.parent
        base = read(folder.joinpath(*(item.module or "").split(".")).with_suffix(".py"))
        for alias in item.names:
            if alias.name == "*":
                names.update(base)
            elif alias.name in base:
                names[alias.asname or alias.name] = base[alias.name]
            else:
                raise fail(item.lineno, f"{item.module} has no config key {alias.name}")
    return names


def update_target(stmt: ast.stmt) -> str | None:
    """The name in `name.update(...)`, a statement on its own line; else None."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and func.attr == "update" and isinstance(func.value, ast.Name):
            return func.value.id
    return None


def config_update(target: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """MMEngine's `ConfigDict.update(other)`, on a copy."""
    out = dict(target)
    for key, value in other.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = config_update(out[key], value)
        else:
            out[key] = value
    return out
