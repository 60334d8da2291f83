"""Read an MMCV 1.x config file into a plain dict, without MMCV and without running it.

MMCV's `Config.fromfile` executes a `.py` config. This reader parses it with `ast` and
evaluates a safe subset instead: literals, `dict(...)` / `list(...)` / `tuple(...)`, names
bound earlier in the same file, unary minus, arithmetic (`0.85 / 0.95`, `20 * 1252`),
string and list concatenation, subscripts and f-strings. Everything else MMCV would do is
reproduced, as in mmcv 1.7.2's `Config._file2dict`:

- predefined variables `{{ fileDirname }}`, `{{ fileBasename }}`,
  `{{ fileBasenameNoExtension }}`, `{{ fileExtname }}` are substituted in the text first;
- `_base_` (one path or a list, relative to the file) is read recursively; two bases may not
  define the same top-level key;
- `{{ _base_.a.b }}` takes the value of `a.b` from the merged bases;
- the file's dict is merged into its bases' with `merge` (MMCV's `_merge_a_into_b`): a dict
  is merged key by key into a base dict unless it has `_delete_=True`, which replaces the
  base value; a dict over a base value that is not a dict is MMCV's TypeError;
- names starting with `__`, imported modules and `_base_` itself are not config keys.

MMEngine's new format (`with read_base():` imports, `name.update(...)`) is read by the
rules of `read_base.py`.

`.json` and `.yaml` configs (MMCV reads those too) are loaded as data, with the same
`_base_` rules. A value the reader cannot evaluate (a call to a function, a name imported
from a module) becomes `Unevaluable`, so the translator can report that key instead of
failing the whole file; a statement that could change what earlier names mean (`for`,
`if`, `def`, augmented assignment) is refused with `ReadError`, and so is a file whose
evaluation would exceed the total work `budget.Budget` allows (huge integers, values grown by
repeated squaring or doubling, too many operations, too long), or that is not UTF-8 text.
"""
from __future__ import annotations

import ast
import json
import operator
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from optkit.from_mmcv.budget import MAX_DEPTH, MAX_FILE_BYTES, Budget, OverBudget

from optkit.from_mmcv.read_base import base_names, config_update, is_read_base, update_target

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"
SUFFIXES = (".py", ".json", ".yaml", ".yml")
BASE_REF = re.compile(r"\{\{\s*" + BASE_KEY + r"\.([\w.]+)\s*\}\}")
BASE_TOKEN = "__optkit_base_ref__"
MAX_SEQUENCE = 100_000  # longest list or string that `*` may build
MAX_EXPONENT = 256


class ReadError(Exception):
    """A config the importer cannot read (one line: the file, where, and why)."""


def shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it (short, stable messages)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Unevaluable:
    """A value that is not a literal (reported by the translator, never guessed)."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"<{self.source}: {self.reason}>"


def read_config(path: str | Path) -> dict[str, Any]:
    """The config at `path` with its `_base_` files merged in, as MMCV's `Config.fromfile`."""
    return read_file(Path(path).absolute(), (), Budget())


def read_file(path: Path, seen: tuple[Path, ...], budget: Optional[Budget] = None) -> dict[str, Any]:
    budget = budget if budget is not None else Budget()
    if path in seen:
        raise ReadError(f"{shown(path)}: _base_ files include each other ({' -> '.join(p.name for p in (*seen, path))})")
    if path.suffix not in SUFFIXES:
        raise ReadError(f"{shown(path)}: not an MMCV config (MMCV reads {', '.join(SUFFIXES)})")
    text = read_text(path)
    text = substitute_predefined(text, path)
    refs = {f"{BASE_TOKEN}{name}": name for name in BASE_REF.findall(text)}
    text = BASE_REF.sub(lambda m: f'"{BASE_TOKEN}{m.group(1)}"', text)
    if path.suffix == ".py":
        cfg = evaluate_python(text, path, budget, seen)
    else:
        cfg = load_data(text, path)
        try:
            budget.check(cfg)  # YAML aliases share parts as list repetition does
        except OverBudget as err:
            raise ReadError(f"{shown(path)}: refused: {err} (the importer's limit)") from None
    if BASE_KEY not in cfg:
        if refs:
            raise ReadError(f"{shown(path)}: {{{{ _base_.{next(iter(refs.values()))} }}}} without a _base_ file")
        return cfg
    names = cfg.pop(BASE_KEY)
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ReadError(f"{shown(path)}: _base_ must be a path or a list of paths (got {names!r})")
    base: dict[str, Any] = {}
    for name in names:
        part = read_file(Path(os.path.normpath(path.parent / name)), (*seen, path), budget)
        duplicates = sorted(base.keys() & part.keys())
        if duplicates:
            raise ReadError(f"{shown(path)}: _base_ files both define {', '.join(duplicates)} (MMCV: duplicate key "
                            "is not allowed among bases)")
        base.update(part)
    cfg = substitute_base_refs(cfg, refs, base, path)
    return merge(cfg, base, path)


def read_text(path: Path) -> str:
    """The file's text: a binary or oversized file is one `ReadError`, not a traceback."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ReadError(f"{shown(path)}: cannot read ({err.strerror or err})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ReadError(f"{shown(path)}: refused: larger than {MAX_FILE_BYTES} bytes (the importer's limit)")
    try:
        return data.decode()
    except UnicodeDecodeError as err:
        raise ReadError(f"{shown(path)}: not a text file (invalid UTF-8 at byte {err.start})") from None


def substitute_predefined(text: str, path: Path) -> str:
    """MMCV's predefined variables, replaced in the file's text before it is parsed."""
    values = {"fileDirname": str(path.parent), "fileBasename": path.name,
              "fileBasenameNoExtension": path.stem, "fileExtname": path.suffix}
    for name, value in values.items():
        text = re.sub(r"\{\{\s*" + name + r"\s*\}\}", value.replace("\\", "/"), text)
    return text


def load_data(text: str, path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as err:  # json.JSONDecodeError, yaml.YAMLError
        raise ReadError(f"{shown(path)}: cannot parse ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ReadError(f"{shown(path)}: the top level must be a mapping")
    return data


def substitute_base_refs(value: Any, refs: dict[str, str], base: dict[str, Any], path: Path) -> Any:
    """Replace each `{{ _base_.a.b }}` placeholder with the base's value (MMCV
    `_substitute_base_vars`); a placeholder used inside an expression is Unevaluable."""
    if isinstance(value, str) and BASE_TOKEN in value:
        if value not in refs:
            return Unevaluable(value.replace(BASE_TOKEN, "{{_base_.") + "}}", "a _base_ variable inside an "
                               "expression")
        found: Any = base
        for part in refs[value].split("."):
            if not isinstance(found, dict) or part not in found:
                raise ReadError(f"{shown(path)}: {{{{ _base_.{refs[value]} }}}}: no such key in the _base_ files")
            found = found[part]
        return found
    if isinstance(value, dict):
        return {k: substitute_base_refs(v, refs, base, path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(substitute_base_refs(v, refs, base, path) for v in value)
    return value


def merge(child: dict[str, Any], base: dict[str, Any], path: Path, prefix: str = "") -> dict[str, Any]:
    """MMCV 1.x `Config._merge_a_into_b(child, base)`, its quirk included: `_delete_` is only
    consumed where the base has the key (elsewhere it stays in the dict, as in MMCV)."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict):
            if key in out and not value.pop(DELETE_KEY, False):
                if not isinstance(out[key], dict):
                    raise ReadError(f"{shown(path)}: {prefix}{key} is a dict here but {kind(out[key])} in "
                                    f"_base_, which MMCV refuses to merge (add {DELETE_KEY}=True to replace the base "
                                    "value)")
                out[key] = merge(value, out[key], path, f"{prefix}{key}.")
            else:
                out[key] = value
        else:
            out[key] = value
    return out


def kind(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


# --- evaluating a .py config -------------------------------------------------------------------


def evaluate_python(text: str, path: Path, budget: Budget, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The top-level names a `.py` config binds, evaluated statement by statement (MMEngine's
    `with read_base():` and `name.update(...)` as `read_base.py` says), within `budget`."""
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as err:  # no line number for a null byte
        raise ReadError(f"{shown(path)}{f':{err.lineno}' if err.lineno else ''}: invalid Python ({err.msg})") from None
    except (ValueError, RecursionError, MemoryError) as err:  # null bytes; nesting the parser gives up on
        raise ReadError(f"{shown(path)}: invalid Python ({type(err).__name__}: {err})") from None
    names: dict[str, Any] = {}
    for stmt in tree.body:
        try:
            evaluate_statement(stmt, names, text, path, budget, seen)
        except OverBudget as err:
            raise ReadError(f"{shown(path)}:{stmt.lineno}: refused: evaluating it needs {err} (the importer's "
                            "limit)") from None
    return {k: v for k, v in names.items() if not k.startswith("__")}


def evaluate_statement(stmt: ast.stmt, names: dict[str, Any], text: str, path: Path, budget: Budget,
                       seen: tuple[Path, ...]) -> None:
    if isinstance(stmt, ast.Assign):
        value = Evaluator(names, text, budget).value(stmt.value)
        for target in stmt.targets:
            bind(target, value, names, path)
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        bind(stmt.target, Evaluator(names, text, budget).value(stmt.value), names, path)
    elif isinstance(stmt, ast.ImportFrom):
        for alias in stmt.names:
            names[alias.asname or alias.name] = Unevaluable(alias.name, f"imported from {stmt.module}")
    elif is_read_base(stmt):
        names.update(base_names(stmt, path, lambda base: read_file(base, (*seen, path), budget),
                                lambda line, why: ReadError(f"{shown(path)}:{line}: {why}")))
    elif update_target(stmt) is not None:
        name = update_target(stmt)
        if not isinstance(names.get(name), dict):
            raise ReadError(f"{shown(path)}:{stmt.lineno}: {name}.update(): {name} is not a dict bound earlier")
        call = ast.Call(func=ast.Name("dict", ast.Load()), args=stmt.value.args, keywords=stmt.value.keywords)
        other = Evaluator(names, text, budget).value(ast.copy_location(call, stmt.value))
        if isinstance(other, Unevaluable):
            raise ReadError(f"{shown(path)}:{stmt.lineno}: {name}.update(): cannot evaluate ({other.reason})")
        names[name] = config_update(names[name], other)
    elif not (isinstance(stmt, (ast.Import, ast.Pass)) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))):  # MMCV drops modules; a docstring binds nothing
        raise ReadError(f"{shown(path)}:{stmt.lineno}: unsupported statement ({type(stmt).__name__}); the importer "
                        "evaluates assignments of literal values only")


def bind(target: ast.expr, value: Any, names: dict[str, Any], path: Path) -> None:
    if isinstance(target, ast.Name):
        names[target.id] = value
    elif isinstance(target, (ast.Tuple, ast.List)):
        items = value if isinstance(value, (list, tuple)) and len(value) == len(target.elts) else None
        for i, element in enumerate(target.elts):
            bind(element, items[i] if items is not None else Unevaluable("unpacking", "not a sequence of that "
                                                                          "length"), names, path)
    else:
        raise ReadError(f"{shown(path)}:{target.lineno}: unsupported assignment target; the importer binds names only")


BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert,
}
CONSTRUCTORS = {"dict": dict, "list": list, "tuple": tuple}


class NotLiteral(Exception):
    """Raised inside `Evaluator` for an expression outside the safe subset."""


class Evaluator:
    """Evaluates one expression. A part that is not a literal becomes `Unevaluable` at the
    smallest enclosing dict value or list item, so `dict(lr=f(x), momentum=0.9)` keeps its
    momentum."""

    def __init__(self, names: dict[str, Any], text: str, budget: Budget) -> None:
        self.names = names
        self.text = text
        self.budget = budget
        self.depth = 0

    def value(self, node: ast.expr) -> Any:
        try:
            return self.eval(node)
        except NotLiteral as err:
            return Unevaluable(ast.get_source_segment(self.text, node) or type(node).__name__, str(err))
        except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as err:
            return Unevaluable(ast.get_source_segment(self.text, node) or type(node).__name__,
                               f"{type(err).__name__}: {err}")

    def eval(self, node: ast.expr) -> Any:
        method = getattr(self, f"eval_{type(node).__name__}", None)
        if method is None:
            raise NotLiteral(f"{type(node).__name__} is not a literal")
        self.budget.operation()
        if self.depth >= MAX_DEPTH:
            raise OverBudget(f"expressions nested more than {MAX_DEPTH} deep")
        self.depth += 1
        try:
            result = method(node)
        finally:
            self.depth -= 1
        if isinstance(result, Unevaluable):
            raise NotLiteral(result.reason)
        return self.budget.check(result)

    def eval_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def eval_Name(self, node: ast.Name) -> Any:
        if node.id not in self.names:
            raise NotLiteral(f"{node.id} is not bound earlier in the file")
        return self.names[node.id]

    def eval_Dict(self, node: ast.Dict) -> dict:
        out: dict = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                out.update(self.mapping(value))
            else:
                out[self.eval(key)] = self.value(value)
        return out

    def eval_List(self, node: ast.List) -> list:
        return self.items(node.elts)

    def eval_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.items(node.elts))

    def items(self, elements: list[ast.expr]) -> list:
        out: list = []
        for element in elements:
            if isinstance(element, ast.Starred):
                out.extend(self.sequence(element.value))
            else:
                out.append(self.value(element))
        return out

    def eval_Call(self, node: ast.Call) -> Any:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in CONSTRUCTORS or name in self.names:
            raise NotLiteral(f"a call to {ast.get_source_segment(self.text, node.func)}() is not a literal")
        if name == "dict":
            out: dict = {}
            for arg in node.args:
                out.update(self.mapping(arg))
            for keyword in node.keywords:
                if keyword.arg is None:
                    out.update(self.mapping(keyword.value))
                else:
                    out[keyword.arg] = self.value(keyword.value)
            return out
        if node.keywords or len(node.args) > 1:
            raise NotLiteral(f"{name}() takes one positional argument here")
        return CONSTRUCTORS[name](self.sequence(node.args[0]) if node.args else [])

    def mapping(self, node: ast.expr) -> dict:
        value = self.eval(node)
        if not isinstance(value, dict):
            raise NotLiteral("** needs a dict")
        return value

    def sequence(self, node: ast.expr) -> list:
        value = self.eval(node)
        if not isinstance(value, (list, tuple, str)):
            raise NotLiteral("* needs a list or tuple")
        return list(value)

    def eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return UNARY[type(node.op)](self.eval(node.operand))

    def eval_BinOp(self, node: ast.BinOp) -> Any:
        op = type(node.op)
        if op not in BINARY:
            raise NotLiteral(f"operator {op.__name__} is not supported")
        left, right = self.eval(node.left), self.eval(node.right)
        if op is ast.Mod and isinstance(left, str):
            raise NotLiteral("%-formatting of strings is not supported")
        if op is ast.Pow and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise NotLiteral("exponent too large")
        if op is ast.Mult and isinstance(left, (str, list, tuple)) and isinstance(right, int):
            if len(left) * right > MAX_SEQUENCE:
                raise NotLiteral("sequence too long")
        if op is ast.Mult and isinstance(right, (str, list, tuple)) and isinstance(left, int):
            if len(right) * left > MAX_SEQUENCE:
                raise NotLiteral("sequence too long")
            left, right = right, left  # n * seq is seq * n
        size = self.predict(op, left, right)
        result = BINARY[op](left, right)
        if size is not None:
            self.budget.remember(result, size)
        return result

    def predict(self, op: type, left: Any, right: Any) -> Optional[int]:
        """Refuse, before computing it, a power, product or sum whose result is over budget;
        the size of a repeated or concatenated sequence (so it is not walked again)."""
        ints = all(isinstance(x, int) and not isinstance(x, bool) for x in (left, right))
        if op is ast.Pow and ints and right > 0:
            self.budget.allow(0, left.bit_length() * right)
        elif op is ast.Mult and ints:
            self.budget.allow(0, left.bit_length() + right.bit_length())
        elif op is ast.Mult and isinstance(left, (str, list, tuple)) and isinstance(right, int):
            return self.budget.allow(1 + max(right, 0) * (self.budget.size(left) - 1))
        elif op is ast.Add and isinstance(left, (str, list, tuple)) and type(left) is type(right):
            return self.budget.allow(self.budget.size(left) + self.budget.size(right) - 1)
        return None

    def eval_Subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        if not isinstance(container, (dict, list, tuple, str)):
            raise NotLiteral("subscript of a value that is not a dict, list, tuple or str")
        return container[self.eval(node.slice)]

    def eval_Slice(self, node: ast.Slice) -> slice:
        parts = [None if part is None else self.eval(part) for part in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def eval_JoinedStr(self, node: ast.JoinedStr) -> str:
        return "".join(self.eval(part) for part in node.values)

    def eval_FormattedValue(self, node: ast.FormattedValue) -> str:
        value = self.eval(node.value)
        if node.conversion in (ord("r"), ord("s"), ord("a")):
            value = {ord("r"): repr, ord("s"): str, ord("a"): ascii}[node.conversion](value)
        spec = "" if node.format_spec is None else self.eval(node.format_spec)
        if not isinstance(value, (str, int, float, bool)) or re.search(r"\d{4}", spec):
            raise NotLiteral("f-string formatting of this value is not supported")
        return format(value, spec)
