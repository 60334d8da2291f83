"""What optkit promises about untrusted input: config strings are never evaluated, a
checkpoint cannot run code (weights_only), custom_imports imports the listed modules and
nothing else. Checked on the source itself, so a later change cannot slip past."""
from __future__ import annotations

import ast
import importlib

import pytest

from optkit import validate
from tests.conftest import REPO, compose_config

SOURCES = sorted((REPO / "src" / "optkit").rglob("*.py"))


def calls(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            yield node


def name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ""


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_no_eval_exec_or_unrestricted_unpickling(path):
    banned = {"eval", "exec", "compile", "__import__", "pickle.load", "pickle.loads", "yaml.load", "marshal.loads"}
    found = [f"{name(c)} (line {c.lineno})" for c in calls(path) if name(c) in banned]
    assert not found, found


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_every_torch_load_is_weights_only(path):
    for call in calls(path):
        if name(call) == "torch.load":
            flags = {k.arg: k.value for k in call.keywords}
            assert isinstance(flags.get("weights_only"), ast.Constant) and flags["weights_only"].value is True, \
                f"{path}:{call.lineno}"


def test_custom_imports_only_imports_the_listed_modules(monkeypatch):
    cfg = compose_config(["custom_imports=[tests.custom_opt.my_optimizer,os.path]"])
    imported = []
    monkeypatch.setattr(importlib, "import_module", lambda module: imported.append(module))
    validate.import_custom_modules(cfg)
    assert imported == ["tests.custom_opt.my_optimizer", "os.path"]
