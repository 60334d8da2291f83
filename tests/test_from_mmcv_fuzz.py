"""A property-based fuzz test of `scripts/from_mmcv.py` (hypothesis): small generated and
mutated config files (MMCV-like lines, hostile atoms, calls that would run code, byte flips,
binary and invalid UTF-8; .py, .yaml, .json) give a translation or one error line, never a
traceback, never more than the reader's time and memory budget, never code execution."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from optkit.from_mmcv.main import main
from tests.test_from_mmcv_budget import HANG_GUARD_S, MEMORY_LIMIT, measured

pytest.importorskip("hypothesis", reason="the fuzz test needs hypothesis (pip install -e '.[dev]')")
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
