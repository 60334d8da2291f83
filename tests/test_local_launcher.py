"""`hydra/launcher=local`: one GPU per concurrently running job, as many jobs at once as GPUs.
Checked on CPU through each job's own environment: the GPUs to share out are the ones this
process's CUDA_VISIBLE_DEVICES lists (read before torch's device count, as on a GPU node
where a scheduler set it), and every job records the CUDA_VISIBLE_DEVICES it ran with."""
from __future__ import annotations

import itertools
import json

import pytest

from hydra_plugins.optkit_local_launcher.launcher import gpu_ids, slots
from tests.conftest import run_train


@pytest.mark.parametrize("visible,env,per_job,expect", [
    ([], "3,5", 1, [[3], [5]]),
    ([1, 2, 6], "3,5", 1, [[1], [2], [6]]),  # visible_gpus wins over the environment
    ([], "0,1,2,3,4", 2, [[0, 1], [2, 3]]),  # a GPU left over is not used
    ([], "", 1, []),  # CUDA_VISIBLE_DEVICES="" hides every GPU
    ([], "0,1", 0, []),  # gpus_per_node=0
])
def test_slots(visible, env, per_job, expect):
    assert slots(gpu_ids(visible, env), per_job) == expect


@pytest.mark.slow
def test_each_running_job_has_its_own_gpu(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_train(["-m", "hydra/launcher=local", "optimizer.lr=0.1,0.03,0.01,0.003,0.001", "model=mlp",
                      "trainer.max_epochs=1", "trainer.device=cpu", "logging.tensorboard=false",
                      f"hydra.sweep.dir={sweep}"], cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": "3,5"}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = []
    for num in range(5):
        records = [json.loads(line) for line in (sweep / str(num) / "metrics.jsonl").read_text().splitlines()]
        start = next(r for r in records if r["kind"] == "start")
        done = next(r for r in records if r["kind"] == "done")
        jobs.append((start["cuda_visible_devices"], start["time"], done["time"]))
    assert {gpu for gpu, _, _ in jobs} == {"3", "5"}
    for (gpu_a, start_a, end_a), (gpu_b, start_b, end_b) in itertools.combinations(jobs, 2):
        if start_a < end_b and start_b < end_a:  # ran at the same time: never on the same GPU
            assert gpu_a != gpu_b
    for _, start, _ in jobs:  # at most two at once
        assert sum(1 for _, s, e in jobs if s <= start < e) <= 2
