"""The guard of the fast tier: a test that starts train.py must be marked `slow`."""
from __future__ import annotations

import pytest

from tests.conftest import RUNNING, require_slow_mark, run_train


def test_an_unmarked_test_that_starts_train_py_fails(request):
    assert RUNNING == [request.node]
    with pytest.raises(pytest.fail.Exception) as failure:
        run_train(["--help"])
    assert str(failure.value) == f"{request.node.nodeid} starts train.py in a subprocess: mark it @pytest.mark.slow"


def test_a_slow_test_may_start_one(request):
    request.node.add_marker(pytest.mark.slow)
    assert require_slow_mark("train.py") is None
