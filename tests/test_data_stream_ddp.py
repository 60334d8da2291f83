"""Distributed validation: two ranks (torchrun, gloo) each validate a share of the split and
the reduced metrics equal one process's over the whole split, in memory and streamed."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest
import torch

from optkit.data import StreamData, load_synthetic
from optkit.data.stream import LoaderSettings
from optkit.distributed import DistInfo
from optkit.loop import evaluate
from optkit.models import MLP
from tests.conftest import REPO
from tests.custom_data.datasets import SyntheticSplit

NUM_VAL = 1001  # odd: the ranks' shares differ in size


def evaluated(info: DistInfo) -> dict[str, dict[str, float]]:
    """{"memory": metrics, "stream": metrics} of one fixed model, on this rank's share."""
    torch.manual_seed(0)
    model = MLP(in_shape=(1, 8, 8), num_classes=10, hidden=[32], dropout=0.0)
    memory = load_synthetic(num_train=10, num_val=NUM_VAL, shape=[1, 8, 8], num_classes=10, seed=0)
    split = SyntheticSplit("val")
    split.x, split.y = memory.val.x, memory.val.y
    stream = StreamData(split, split, (1, 8, 8), 10, LoaderSettings(num_workers=1, persistent_workers=False))
    return {name: evaluate(model, data, 64, contextlib.nullcontext, info)
            for name, data in (("memory", memory), ("stream", stream))}


@pytest.mark.slow
def test_two_ranks_validate_like_one_process(tmp_path):
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          str(REPO / "tests" / "ddp_evaluate.py"), str(tmp_path / "m.json")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    ranks = json.loads((tmp_path / "m.json").read_text())
    single = evaluated(DistInfo())
    assert single["memory"] == pytest.approx(single["stream"], abs=1e-6)
    for name in ("memory", "stream"):
        assert ranks[name]["val/acc"] == single[name]["val/acc"] and ranks[name]["val/acc5"] == single[name]["val/acc5"]
        assert ranks[name]["val/loss"] == pytest.approx(single[name]["val/loss"], abs=1e-6)
