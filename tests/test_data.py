"""In-memory data: fixed splits, seeded orders, DDP shards, local CIFAR-10 batches."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from optkit.data import batch_slices, epoch_order, load_cifar10, load_digits, load_synthetic, shard
from optkit.errors import ConfigError


def test_digits_split_is_fixed_and_standardised():
    a = load_digits(val_fraction=0.2, split_seed=0)
    b = load_digits(val_fraction=0.2, split_seed=0)
    assert len(a.train) == 1438 and len(a.val) == 359 and a.in_shape == (1, 8, 8) and a.num_classes == 10
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.val.y, b.val.y)
    assert abs(a.train.x.mean().item()) < 1e-5 and abs(a.train.x.std().item() - 1) < 1e-3
    c = load_digits(val_fraction=0.2, split_seed=1)
    assert not torch.equal(a.val.y, c.val.y)


def test_epoch_order_depends_on_seed_and_epoch_only():
    assert torch.equal(epoch_order(100, 3, 7, True), epoch_order(100, 3, 7, True))
    assert not torch.equal(epoch_order(100, 3, 7, True), epoch_order(100, 4, 7, True))
    assert torch.equal(epoch_order(5, 0, 0, False), torch.arange(5))


def test_shards_cover_the_epoch_like_distributed_sampler():
    order = torch.arange(10)
    shards = [shard(order, r, 3) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]
    assert sorted(torch.cat(shards).tolist()) == sorted(list(range(10)) + [0, 1])
    assert torch.equal(shards[1], torch.tensor([1, 4, 7, 0]))


@pytest.mark.parametrize("n,b,drop,sizes", [(10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, False, [4, 4])])
def test_batch_slices(n, b, drop, sizes):
    assert [s.stop - s.start for s in batch_slices(n, b, drop)] == sizes


def test_synthetic_is_learnable_and_seeded():
    a = load_synthetic(num_train=256, num_val=64, shape=[3, 4, 4], num_classes=5, seed=1)
    assert a.train.x.shape == (256, 3, 4, 4) and a.in_shape == (3, 4, 4)
    assert len(set(a.train.y.tolist())) > 1
    assert torch.equal(a.val.y, load_synthetic(num_train=256, num_val=64, shape=[3, 4, 4], num_classes=5, seed=1).val.y)


def write_fake_cifar(folder, n=20):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)


def test_cifar10_reads_local_python_batches(tmp_path):
    write_fake_cifar(tmp_path / "cifar-10-batches-py")
    data = load_cifar10(root=str(tmp_path), augment=True)
    assert data.train.x.shape == (100, 3, 32, 32) and data.train.x.dtype == torch.uint8
    x, y = data.train_batch(torch.arange(8))
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and y.shape == (8,)


def test_a_doctored_cifar10_batch_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    write_fake_cifar(tmp_path / "batches")
    with open(tmp_path / "batches" / "data_batch_3", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f)
    with pytest.raises(ConfigError) as err:
        load_cifar10(root=str(tmp_path / "batches"), augment=False)
    assert err.value.key == "data.root" and "posix.system has no place in a CIFAR-10 batch" in err.value.message()
    assert not os.path.exists("pwned")


@pytest.mark.parametrize("root", [None, "/nonexistent/cifar"])
def test_cifar10_missing_is_a_config_error(root):
    with pytest.raises(ConfigError) as err:
        load_cifar10(root=root, augment=False)
    assert err.value.key == "data.root"
