"""The MMCV config reader bounds its total work: hostile files (huge integers by chained
powers or repeated squaring, values grown by doubling or shared references, YAML aliases,
deep nesting, too many operations, binary or oversized files) are refused in one line, fast
and in little memory (tests/test_from_mmcv_fuzz.py fuzzes the whole tool)."""
from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from optkit.from_mmcv.budget import MAX_FILE_BYTES, MAX_SECONDS
from optkit.from_mmcv.read import ReadError, read_config

MEMORY_LIMIT = 64 << 20  # bytes Python may allocate while reading one file
HANG_GUARD_S = 10 * MAX_SECONDS  # not a benchmark: without the budget these run for hours


def measured(call):
    """(result or the exception, peak Python memory, seconds)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = call()
    except (Exception, SystemExit) as err:  # the caller asserts what it may be
        result = err
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak, elapsed


HOSTILE = {
    "chained_powers": ("c.py", "a=10**256; b=a**256; c=b**256; d=c**256", "an integer of more than 4096 bits"),
    "repeated_squaring": ("c.py", "a = 2**255\n" + "a = a * a\n" * 40, "an integer of more than 4096 bits"),
    "list_doubling": ("c.py", "a = [0] * 1000\n" + "a = a + a\n" * 40, "a value of more than 1000000"),
    "string_doubling": ("c.py", "s = 'x' * 1000\n" + "s = s + s\n" * 40, "a value of more than 1000000"),
    "repeated_product": ("c.py", "a = [0] * 1000\n" + "a = [a] * 1000\n" * 5, "a value of more than 1000000"),
    "shared_in_dicts": ("c.py", "a = dict(x=[0] * 90000)\n" + "a = dict(p=a, q=a)\n" * 40,
                        "a value of more than 1000000"),
    "yaml_aliases": ("c.yaml", "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + "".join(
        f"l{i}: &l{i} [{', '.join(['*' + ('a' if i == 0 else f'l{i - 1}')] * 10)}]\n" for i in range(8)),
        "a value of more than 1000000"),
    "deep_expression": ("c.py", "x = " + "-" * 150 + "1", "nested more than 100 deep"),
    "long_chain": ("c.py", "x = " + " + ".join(["1"] * 500), "nested more than 100 deep"),
    "binary": ("c.py", bytes(range(256)) * 4, "not a text file (invalid UTF-8 at byte 128)"),
    "oversized": ("c.py", "# " + "x" * MAX_FILE_BYTES, f"larger than {MAX_FILE_BYTES} bytes"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_in_one_line_fast_and_small(tmp_path, name):
    filename, content, limit = HOSTILE[name]
    path = tmp_path / filename
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    error, peak, elapsed = measured(lambda: read_config(path))
    assert isinstance(error, ReadError), error
    assert limit in str(error) and "\n" not in str(error)
    assert peak < MEMORY_LIMIT and elapsed < HANG_GUARD_S


def test_operations_are_counted_over_the_file_and_its_bases(tmp_path):
    """Each file is small; together they are too much work. (Whichever limit comes first on
    a busy machine, where tracemalloc slows Python down: the count or the clock.)"""
    names = [f"b{i}.py" for i in range(12)]
    for name in names:
        (tmp_path / name).write_text(f"{name[:-3]} = [" + "1, " * 10_000 + "]\n")
    (tmp_path / "c.py").write_text(f"_base_ = {names!r}\n")
    error, peak, elapsed = measured(lambda: read_config(tmp_path / "c.py"))
    assert isinstance(error, ReadError), error
    assert "refused: evaluating it needs more than " in str(error) and "\n" not in str(error)
    assert peak < MEMORY_LIMIT and elapsed < HANG_GUARD_S


def test_a_real_config_is_far_below_the_budget():
    config = Path(__file__).parent / "fixtures" / "mmcv_configs" / "resnet18_cifar10.py"
    result, peak, _ = measured(lambda: read_config(config))
    assert isinstance(result, dict) and peak < MEMORY_LIMIT // 16
