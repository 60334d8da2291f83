"""No import cycles in src/optkit.

Every import counts: at module level, inside functions (a lazy import still makes the two
modules depend on each other; it only hides the cycle from the interpreter), and under
`if TYPE_CHECKING:` (a type is a dependency too). `from optkit.x import name` depends on
`optkit.x.name` when that is a module, else on `optkit.x`. Importing `optkit.a.b` runs
`optkit/a/__init__.py` first, so it depends on `optkit.a` as well, except from inside
`optkit.a` (whose `__init__` is already running when its modules import each other).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str], src: Path = SRC) -> set[str]:
    """The modules of `modules` that `path` (under `src`) imports, anywhere in its body."""
    name = module_name(path, src)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import optkit.a.b.Name` → optkit.a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    # importing optkit.a.b first runs optkit/a/__init__.py, unless the importer lives in optkit.a
    parents = {p for t in found for p in ancestors(t) if p in modules and p not in ancestors(name) and p != name}
    return found | parents


def ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    paths = {module_name(p, src): p for p in (src / "optkit").rglob("*.py")}
    return {name: imports(path, set(paths), src) for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of `graph` as [a, b, ..., a], or [] (depth-first search, sorted for a stable answer)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_src_optkit_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " → ".join(cycle)


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"x": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
    ({"a": {"a2", "b"}, "a2": set(), "b": {"a2"}}, []),
])
def test_find_cycle(graph, cycle):
    assert find_cycle(graph) == cycle


@pytest.mark.parametrize("source, expected", [
    ("from optkit.train import make_timeline", {"optkit.train"}),  # a name, not a module
    ("def f():\n    from optkit import validate", {"optkit.validate"}),  # function level counts
    ("import optkit.schedule.build", {"optkit.schedule.build"}),
    ("from . import curve", {"optkit.schedule.curve"}),  # relative, inside optkit.schedule
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from optkit.data import Dataset", {"optkit.data"}),
    ("from optkit.data.tensors import Tensors", {"optkit.data.tensors", "optkit.data"}),  # its package's __init__
    ("import torch", set()),
])
def test_imports_of_a_module(tmp_path, source, expected):
    modules = {"optkit", "optkit.train", "optkit.validate", "optkit.schedule", "optkit.schedule.build",
               "optkit.schedule.curve", "optkit.data", "optkit.data.tensors", "optkit.schedule.x"}
    path = tmp_path / "optkit" / "schedule" / "x.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert imports(path, modules, tmp_path) == expected
