"""DDP: environment detection, global batches, and real 2-process runs on CPU (torchrun, gloo)
that end where single-process training with the same global batch ends."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from optkit.cli import add_overrides, shared_output_dir
from optkit.data import batch_slices, epoch_order, shard
from optkit.distributed import DistInfo, detect
from tests.conftest import (LONG_RUN, compose_config, killed_on_failure, run_train, torchrun, wait_for_training,
                            weight_difference)

# SGD with momentum on an MLP (no BatchNorm): the global batch fully determines the step.
COMMON = ["model=mlp", "optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "trainer.device=cpu",
          "trainer.deterministic=true", "logging.log_every=5", "logging.tensorboard=false"]
SHORT = [*COMMON, "trainer.max_iters=30"]  # crosses an epoch end (23 steps of 64 on digits' 1438 samples)


@pytest.mark.parametrize("env, expected", [
    ({}, DistInfo()),
    ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}, DistInfo(1, 2, 1)),  # torchrun
    ({"SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_LOCALID": "1", "SLURM_STEP_ID": "0"}, DistInfo(3, 4, 1)),
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0"}, DistInfo()),  # sbatch script, no srun step
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_STEP_ID": "0"}, DistInfo()),  # a submitit sweep job
])
def test_detect(env, expected):
    assert detect(env) == expected


@pytest.mark.parametrize("n, world, batch", [(1438, 2, 32), (1440, 4, 16), (101, 2, 8)])
def test_rank_batches_make_up_the_single_process_batch(n, world, batch):
    """Rank r's i-th batch holds positions r, r+W, ... of the i-th global batch of W·b
    samples, so the ranks together see exactly the single-process batch. Only when n is
    not a multiple of W does the last batch of an epoch differ: DistributedSampler pads each
    shard to the same length by repeating the first samples of the epoch."""
    order = epoch_order(n, epoch=3, seed=7, shuffle=True)
    shards = [shard(order, r, world) for r in range(world)]
    single = [order[s] for s in batch_slices(n, world * batch, drop_last=False)]
    per_rank = [[sh[s] for s in batch_slices(len(sh), batch, drop_last=False)] for sh in shards]
    assert all(len(batches) == len(single) for batches in per_rank)
    for i, expected in enumerate(single):
        together = torch.cat([batches[i] for batches in per_rank])
        if n % world == 0 or i < len(single) - 1:
            assert sorted(together.tolist()) == sorted(expected.tolist())
        else:
            padding = order[: world - n % world]
            assert sorted(together.tolist()) == sorted(expected.tolist() + padding.tolist())


def test_single_process_needs_no_shared_run_dir():
    assert shared_output_dir(compose_config()) == []


def test_extra_overrides_go_right_after_the_users():
    assert add_overrides(["a=1", "b=2", "-m"], ["c=3"]) == ["a=1", "b=2", "c=3", "-m"]
    assert add_overrides(["--cfg", "job"], ["c=3"]) == ["--cfg", "job", "c=3"]


def train_losses(run_dir: Path) -> list[float]:
    return [r["train/loss"] for r in read_records(run_dir) if r["kind"] == "train"]


def read_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ddp_preempted(tmp_path_factory):
    """2 ranks × 32 with Hydra's default `outputs/<date>/<time>` dir (rank 1 starting 1.5 s
    late), SIGTERM to torchrun mid-run, then the same command again in that directory."""
    cwd = tmp_path_factory.mktemp("ddp")
    proc = torchrun([*LONG_RUN, "data.batch_size=32"], cwd, delay_rank1=1.5)
    with killed_on_failure(proc):
        wait_for_training(proc, cwd, "outputs/*/*/metrics.jsonl")
        proc.send_signal(signal.SIGTERM)
        first = proc.communicate(timeout=120)[0]
    run_dirs = [p.parent for p in cwd.glob("outputs/*/*/.hydra")]
    stopped = torch.load(run_dirs[0] / "last.pt", weights_only=True)["progress"]["step"]
    resumed = torchrun([*LONG_RUN, "data.batch_size=32", f"hydra.run.dir={run_dirs[0]}"], cwd)
    with killed_on_failure(resumed):
        second = resumed.communicate(timeout=300)[0]
    return dict(cwd=cwd, run_dirs=run_dirs, first=first, first_rc=proc.returncode, stopped=stopped,
                second=second, second_rc=resumed.returncode)


@pytest.mark.slow
def test_ranks_share_one_run_dir_and_only_rank0_writes(ddp_preempted):
    cwd = ddp_preempted["cwd"]
    assert len(ddp_preempted["run_dirs"]) == 1
    assert [p.relative_to(cwd) for p in cwd.glob("outputs/*/*")] == [ddp_preempted["run_dirs"][0].relative_to(cwd)]
    run_dir = ddp_preempted["run_dirs"][0]
    assert sorted(p.name for p in run_dir.iterdir()) == [".hydra", ".optkit.lock", "best.pt", "last.pt",
                                                          "metrics.jsonl", "prev.pt", "tb", "train.log"]


@pytest.mark.slow
def test_sigterm_stops_every_rank_at_one_step_after_saving(ddp_preempted):
    step = ddp_preempted["stopped"]
    assert 0 < step < 150 and step % 10 == 0  # ranks agree every DDP_CHECK_EVERY steps
    assert ddp_preempted["first_rc"] != 0
    message = f"optkit: preempted: SIGTERM at step {step}, last.pt saved"
    assert ddp_preempted["first"].count(message) == 1, ddp_preempted["first"]  # rank 0 only


@pytest.mark.slow
def test_resumed_ddp_run_matches_the_uninterrupted_one(ddp_preempted, ddp_reference):
    """Bitwise. Against single-process training these 150 steps drift apart by float summation
    order (under 1e-5 on one CPU, 9e-4 on an Intel Xeon); test_ddp_with_accumulation_* bounds
    DDP against one process on a short run."""
    assert ddp_preempted["second_rc"] == 0, ddp_preempted["second"]
    assert f"at step {ddp_preempted['stopped']}" in ddp_preempted["second"]
    run_dir = ddp_preempted["run_dirs"][0]
    assert torch.load(run_dir / "last.pt", weights_only=True)["progress"]["step"] == 150
    assert weight_difference(run_dir, ddp_reference) == 0.0


@pytest.mark.slow
def test_ddp_with_accumulation_matches_single_process_training(tmp_path):
    single = run_train([*SHORT, "data.batch_size=64", f"hydra.run.dir={tmp_path / 'single'}"])
    assert single.returncode == 0, single.stderr
    proc = torchrun([*SHORT, "data.batch_size=16", "grad.accumulate=2", f"hydra.run.dir={tmp_path / 'ddp'}"], tmp_path)
    with killed_on_failure(proc):
        out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    assert weight_difference(tmp_path / "ddp", tmp_path / "single") < 1e-5
    # the logged train loss is the mean over both ranks: the single process's loss
    assert train_losses(tmp_path / "ddp") == pytest.approx(train_losses(tmp_path / "single"), rel=1e-5)
    assert len(train_losses(tmp_path / "ddp")) == 6


# --- a non-finite loss on one rank ---------------------------------------------------------------

INF_ON_RANK_1 = ["model._target_=tests.custom_models.nonfinite.NonFiniteMLP", "+model.nan_at=5",
                 "+model.what=inf_loss"]


@pytest.mark.slow
def test_an_infinite_loss_on_one_rank_stops_every_rank_at_that_step(tmp_path):
    """Rank 1's loss is infinite at step 5, its gradient finite (so the all-reduced gradient
    is too): both ranks stop there, rank 0 writes last.pt from before that update."""
    proc = torchrun([*SHORT, *INF_ON_RANK_1, "+model.rank=1", "data.batch_size=32", f"hydra.run.dir={tmp_path}"],
                    tmp_path)
    with killed_on_failure(proc):
        out = proc.communicate(timeout=300)[0]
    assert proc.returncode != 0
    assert out.count("optkit: stopped: non-finite loss at step 5 (epoch 0)") == 1, out
    assert torch.load(tmp_path / "last.pt", weights_only=True)["progress"]["step"] == 5
    assert "exitcode  : 3" in out and "exitcode  : 1" not in out, out  # no rank failed otherwise


@pytest.mark.slow
def test_an_infinite_loss_on_one_rank_is_skipped_on_every_rank(tmp_path):
    """`skip`: every rank leaves step 5 out, so the run ends where a single process that
    skipped the same step ends."""
    single = run_train([*SHORT, *INF_ON_RANK_1, "trainer.nonfinite=skip", "data.batch_size=64",
                        f"hydra.run.dir={tmp_path / 'single'}"])
    assert single.returncode == 0, single.stderr
    proc = torchrun([*SHORT, *INF_ON_RANK_1, "+model.rank=1", "trainer.nonfinite=skip", "data.batch_size=32",
                     f"hydra.run.dir={tmp_path / 'ddp'}"], tmp_path)
    with killed_on_failure(proc):
        out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    assert "non-finite loss at step 5 (epoch 0): update skipped" in out
    assert [r["train/nonfinite_steps"] for r in read_records(tmp_path / "ddp") if r["kind"] == "train"][-1] == 1
    assert weight_difference(tmp_path / "ddp", tmp_path / "single") < 1e-5


@pytest.mark.slow
def test_ddp_ema_matches_the_single_process_ema(tmp_path):
    """Model EMA under DDP: the average in last.pt (rank 0's; every rank updates from the same
    all-reduced weights) is the single process's, and so is the EMA's validation."""
    ema = ["ema=ema", "ema.decay=0.9", "ema.warmup=true"]
    single = run_train([*SHORT, *ema, "data.batch_size=64", f"hydra.run.dir={tmp_path / 'single'}"])
    assert single.returncode == 0, single.stderr
    proc = torchrun([*SHORT, *ema, "data.batch_size=32", f"hydra.run.dir={tmp_path / 'ddp'}"], tmp_path)
    with killed_on_failure(proc):
        out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    a, b = (torch.load(tmp_path / d / "last.pt", weights_only=True)["ema"] for d in ("ddp", "single"))
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    val = [[r for r in read_records(tmp_path / d) if r["kind"] == "val"][-1] for d in ("ddp", "single")]
    assert val[0]["val/acc"] == pytest.approx(val[1]["val/acc"], abs=2 / 359)  # at most a sample or two apart
