"""How much work reading one config (with its `_base_` files) may take.

The reader never runs the file, but evaluating its literal subset is still computation, and
a 40-byte file can ask for a lot of it: `a = 10**256; b = a**256; c = b**256` (each power a
legal single step) needs gigabytes of digits, doubling a list by `b = a + a` twenty times a
million elements, and shared references (`[x] * 1000` of `[y] * 1000`, a YAML alias of an
alias) a tree that every later walk over the config visits element by element. Limits on
single operations bound none of these chains, so the budget bounds the total: every
integer's size in bits, every value's size (elements and characters, a shared part counted
each time it appears, as a walk visits it) after each operation (and predicted before the
operations that grow a value), nesting depth, the number of operations and the wall time.
A file over any of them is refused (`OverBudget`, one line), within `MAX_SECONDS` and in
memory proportional to the limits. A real MMCV config is far below all of them (hundreds of
values, a few thousand operations).
"""
from __future__ import annotations

import time
from typing import Any

MAX_FILE_BYTES = 64 << 10  # a config file (MMClassification's are a few kB); its syntax tree takes ~500x
MAX_INT_BITS = 4096  # far beyond any count or float (1024 bits of exponent)
MAX_SIZE = 1_000_000  # elements and characters in one value, shared parts counted each time
MAX_DEPTH = 100  # containers or expressions inside each other
MAX_OPERATIONS = 100_000  # expression nodes evaluated, over the file and its bases
MAX_SECONDS = 0.5


class OverBudget(Exception):
    """Reading the file would take more than the budget; the message says which limit."""


class Budget:
    """The work left for one `read_config`: counted by `operation`, values checked by `check`.
    Sizes of containers are memoised by identity (the objects are kept alive with them, so
    an identity is never reused), so checking a value costs its direct children only."""

    def __init__(self) -> None:
        self.operations = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.sizes: dict[int, tuple[Any, int]] = {}

    def operation(self) -> None:
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise OverBudget(f"more than {MAX_OPERATIONS} operations")
        if time.monotonic() > self.deadline:
            raise OverBudget(f"more than {MAX_SECONDS} s of evaluation")

    def check(self, value: Any) -> Any:
        """`value`, after making sure it is within the size limits."""
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise OverBudget(f"an integer of more than {MAX_INT_BITS} bits")
        self.allow(self.size(value))
        return value

    @staticmethod
    def allow(size: int, bits: int = 0) -> int:
        """Refuse an operation whose result would be over the limits, before it is computed."""
        if bits > MAX_INT_BITS:
            raise OverBudget(f"an integer of more than {MAX_INT_BITS} bits")
        if size > MAX_SIZE:
            raise OverBudget(f"a value of more than {MAX_SIZE} elements and characters")
        return size

    def remember(self, value: Any, size: int) -> None:
        """The size of a container built from parts of known size (not walked again)."""
        if isinstance(value, (list, tuple)):
            self.sizes[id(value)] = (value, size)

    def size(self, value: Any, depth: int = 0) -> int:
        if isinstance(value, (str, bytes)):
            return 1 + len(value)
        if not isinstance(value, (list, tuple, dict, set)):
            return 1
        if id(value) in self.sizes:
            return self.sizes[id(value)][1]
        if depth > MAX_DEPTH:
            raise OverBudget(f"values nested more than {MAX_DEPTH} deep")
        parts = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1
        for part in parts:
            total += self.size(part, depth + 1)
            if total > MAX_SIZE:  # stop early: a huge shared tree is refused without walking it
                break
        self.sizes[id(value)] = (value, total)
        self.allow(total)
        return total
