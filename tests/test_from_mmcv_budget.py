"""The MMCV config reader bounds its total work: hostile files (huge integers by chained
powers or repeated squaring, values grown by doubling or shared references, YAML aliases,
deep nesting, too many operations, binary or oversized files) are refused in one line, fast
and in little memory; and a property-based fuzz test feeds generated and mutated files to
the whole tool: never a traceback, never over the budget, never code execution."""
from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest

from optkit.from_mmcv.budget import MAX_FILE_BYTES, MAX_SECONDS
from optkit.from_mmcv.main import main
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


# --- fuzzing the whole tool ----------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz test needs hypothesis (pip install -e '.[dev]')")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

MARKER = Path(tempfile.gettempdir()) / "optkit-fuzz-ran-code"
ATOMS = ["0", "1", "-3", "2.5e-4", "10**256", "2**255", "'sgd'", "None", "True", "[0] * 1000", "a", "b", "a + a",
         "a * a", "a ** 256", "[a] * 1000", "dict(a=a, b=b)", "{'x': a, **b}", "(a, b)", "a[0]", "a[::-1]",
         "f'{a}'", "list(a)", "-a", "a / 0", f"open({str(MARKER)!r}, 'w')",
         f"__import__('os').system('touch {MARKER}')", "{{ _base_.a }}", "{{ fileBasename }}"]
KEYS = ["a", "b", "optimizer", "lr_config", "optimizer_config", "momentum_config", "runner", "_base_",
        "custom_imports", "paramwise_cfg", "data"]
MMCV_LIKE = ["optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)",
             "lr_config = dict(policy='step', step=[30, 60], warmup='linear', warmup_iters=500)",
             "optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))",
             "runner = dict(type='EpochBasedRunner', max_epochs=100)",
             "momentum_config = dict(policy='cyclic', target_ratio=(0.85 / 0.95, 1), cyclic_times=1)"]


@st.composite
def config_files(draw) -> tuple[str, bytes]:
    """A small config: statements from MMCV-like lines and hostile atoms, then a few random
    byte mutations (flips, insertions, deletions), as text or raw binary, as .py or .yaml."""
    lines = draw(st.lists(st.one_of(
        st.sampled_from(MMCV_LIKE),
        st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(KEYS), st.sampled_from(ATOMS)),
        st.builds(lambda k, v, w: f"{k} = dict({k}={v}, x=[{w}, {v}])", st.sampled_from(KEYS),
                  st.sampled_from(ATOMS), st.sampled_from(ATOMS)),
    ), max_size=8))
    data = bytearray("\n".join(lines).encode())
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        if kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif at < len(data):
            if kind == "flip":
                data[at] ^= draw(st.integers(1, 255))
            else:
                del data[at]
    content = draw(st.one_of(st.just(bytes(data)), st.binary(max_size=64)))
    return draw(st.sampled_from(["c.py", "c.yaml", "c.json"])), content


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])  # capsys is read out every example
@given(config_files())
def test_fuzzed_files_give_a_translation_or_one_line_never_a_traceback(capsys, file):
    filename, content = file
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / filename
        path.write_bytes(content)
        (Path(directory) / "base.py").write_text("a = [1, 2]\nb = dict(x=1)\n")
        outcome, peak, elapsed = measured(lambda: main([str(path), "--overrides"]))
    captured = capsys.readouterr()
    assert isinstance(outcome, SystemExit) or outcome is None, repr(outcome)  # anything else is a traceback
    code = 0 if outcome is None else outcome.code
    assert code in (0, 2), code
    if code == 2:
        assert captured.err.count("\n") == 1 and captured.err.startswith("optkit-from-mmcv: error: "), captured.err
    assert "Traceback" not in captured.err
    assert not MARKER.exists()
    assert peak < MEMORY_LIMIT and elapsed < HANG_GUARD_S
