"""`data=dataset`: any map-style Dataset streamed through a DataLoader gives exactly the
in-memory path's batches (same order, a function of seed and epoch), seeded per-sample
augmentation that neither the worker count nor a resume changes, and one-line errors."""
from __future__ import annotations

import os
import signal

import pytest
import torch

from optkit import validate
from optkit.data import DataError, Dataset, StreamData, batch_slices, epoch_order, load_synthetic
from optkit.data.stream import LoaderSettings
from optkit.errors import ConfigError
from optkit.grad import WindowPlan
from optkit.loop import val_range
from optkit.train import run
from tests.conftest import compose_config
from tests.custom_data.datasets import SYNTHETIC, BadFile, SyntheticSplit

TARGET = "tests.custom_data.datasets"
STREAM = ["data=dataset", f"data.train._target_={TARGET}.SyntheticSplit", f"data.val._target_={TARGET}.SyntheticSplit",
          "+data.val.split=val"]


def plan_epoch(epoch: int, n: int = 300, batch: int = 32, accumulate: int = 3, remainder: str = "flush"):
    plan = WindowPlan(tuple(batch_slices(n, batch, False)), accumulate, remainder, 10_000)
    return plan.epoch(epoch, lambda e: epoch_order(n, e, 7, True))


def streamed(dataset, windows, workers: int, epoch: int = 1, rank: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    data = StreamData(dataset, dataset, (1, 8, 8), 10, LoaderSettings(num_workers=workers, persistent_workers=False))
    data.begin_epoch(epoch, windows, seed=7, rank=rank)
    return [data.train_batch(index) for window in windows for index in window.batches]


@pytest.mark.parametrize("workers,remainder", [(0, "flush"), (2, "flush"), (2, "mmcv")])
def test_streamed_batches_are_the_in_memory_batches(workers, remainder):
    memory = load_synthetic(**SYNTHETIC)
    windows = plan_epoch(1, remainder=remainder)
    batches = streamed(SyntheticSplit("train"), windows, workers)
    expected = [memory.train_batch(index) for window in windows for index in window.batches]
    assert len(batches) == len(expected) == (9 if remainder == "mmcv" else 10)  # mmcv: one window from epoch 0
    for (x, y), (x_ref, y_ref) in zip(batches, expected):
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def test_augmentation_depends_on_seed_epoch_sample_and_rank_only():
    noisy = SyntheticSplit("train", noise=1.0)
    windows = plan_epoch(1)
    rng = torch.get_rng_state()
    full = torch.cat([x for x, _ in streamed(noisy, windows, workers=0)])
    assert torch.equal(torch.get_rng_state(), rng)  # loading in the training process leaves its RNG alone
    assert torch.equal(full, torch.cat([x for x, _ in streamed(noisy, windows, workers=2)]))
    resumed = torch.cat([x for x, _ in streamed(noisy, windows[2:], workers=2)])
    assert torch.equal(resumed, full[-len(resumed):])
    other_rank = torch.cat([x for x, _ in streamed(noisy, windows, workers=0, rank=1)])
    assert not torch.allclose(other_rank, full)
    clean = torch.cat([x for x, _ in streamed(SyntheticSplit("train"), windows, workers=0)])
    assert 0.8 < (full - clean).std().item() < 1.2  # the noise is there, drawn anew per sample


@pytest.mark.parametrize("n,world", [(100, 1), (100, 3), (7, 4), (3, 4)])
def test_validation_shares_cover_each_sample_once(n, world):
    covered = [i for rank in range(world) for i in range(*val_range(n, rank, world))]
    assert covered == list(range(n))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_streamed_run_trains_exactly_the_in_memory_run(tmp_path, workers):
    common = ["model=mlp", "model.dropout=0.1", "optimizer=sgd", "optimizer.lr=0.05", "trainer.max_epochs=2",
              "grad.accumulate=2", "data.batch_size=32", "logging.progress=false", "logging.tensorboard=false",
              "trainer.deterministic=true", "trainer.device=cpu"]
    memory = ["data=synthetic", "data.num_train=300", "data.num_val=100"]
    run(compose_config([*common, *memory]), run_dir=tmp_path / "memory")
    run(compose_config([*common, *STREAM, f"data.num_workers={workers}"]), run_dir=tmp_path / "stream")
    a, b = (torch.load(tmp_path / name / "last.pt", weights_only=True) for name in ("memory", "stream"))
    assert a["progress"]["step"] == b["progress"]["step"] == 10
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["progress"]["last_val"] == pytest.approx(b["progress"]["last_val"], rel=1e-6)


BAD = {
    "not_a_pair": ([f"data.train._target_={TARGET}.NotAPair"], "data.train: a sample must be (input, label)"),
    "float_label": ([f"data.train._target_={TARGET}.FloatLabels"], "data.train: a sample's label must be an integer"),
    "no_classes": (["+data.train.with_classes=false"], "data.num_classes: the training set has no `classes`"),
    "no_import": (["data.train._target_=nowhere.Data"], "data.train._target_: cannot import"),
    "unset": (["data.val._target_=???"], "data.val._target_: must name your Dataset"),
    "workers": (["data.num_workers=-1"], "data.num_workers: must be >= 0"),
    "shape": ([f"data.val._target_={TARGET}.FloatLabels"], "data.val: a sample's label"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_is_one_config_error(case):
    overrides, message = BAD[case]
    with pytest.raises(ConfigError) as err:
        validate.check(compose_config([*STREAM, *overrides]))
    assert str(err.value).startswith(message), str(err.value)


def test_classes_are_counted_or_given():
    plan = validate.check(compose_config([*STREAM, f"data.train._target_={TARGET}.make_splits", "+data.train.split=train"]))
    assert plan.model.head.out_features == 10 and plan.in_shape == (1, 8, 8)
    plan = validate.check(compose_config([*STREAM, "+data.train.with_classes=false", "data.num_classes=12"]))
    assert plan.model.head.out_features == 12


@pytest.mark.parametrize("workers", [0, 2])
def test_an_unreadable_sample_is_one_data_error_naming_it(workers):
    data = StreamData(BadFile(bad=5), SyntheticSplit("val"), (1, 8, 8), 10,
                      LoaderSettings(num_workers=workers, persistent_workers=False))
    windows = [w for w in plan_epoch(0, n=300) if any(5 in index.tolist() for index in w.batches)]
    data.begin_epoch(0, windows, seed=7, rank=0)
    with pytest.raises(DataError) as err:
        for index in windows[0].batches:
            data.train_batch(index)
    assert "sample_5.png" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow  # torch's SIGCHLD handler raises wherever the process is: not under pytest-xdist's workers
def test_a_dead_worker_ends_the_batch_stream_with_one_line():
    data = StreamData(SyntheticSplit("train"), SyntheticSplit("val"), (1, 8, 8), 10,
                      LoaderSettings(num_workers=2, persistent_workers=False, prefetch_factor=1))
    windows = plan_epoch(0)
    data.begin_epoch(0, windows, seed=7, rank=0)
    data.train_batch(windows[0].batches[0])
    for worker in data.batches._workers:
        os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(DataError) as err:
        for window in windows:
            for index in window.batches:
                data.train_batch(index)
    # torch names the death one of two ways, depending on whether its SIGCHLD handler saw it first
    message = str(err.value)
    assert ("exited unexpectedly" in message or "is killed by signal" in message) and "\n" not in message
