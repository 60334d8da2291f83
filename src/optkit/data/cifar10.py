from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from optkit.data.augment import random_crop_flip
from optkit.data.tensors import DataInfo, Dataset, TensorSplit
from optkit.errors import ConfigError

TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
SHAPE = (3, 32, 32)
NUM_TRAIN = 50_000  # 5 training batches of 10,000 images


def find_batches_dir(root: Optional[str]) -> Path:
    """`root` itself or its `cifar-10-batches-py/` subdirectory, whichever holds the batches."""
    if root is None:
        raise ConfigError("data.root", "set the directory holding CIFAR-10's python batches "
                          "(data_batch_1..5, test_batch); nothing is downloaded", None)
    for candidate in (Path(root), Path(root) / "cifar-10-batches-py"):
        if all((candidate / name).is_file() for name in [*TRAIN_FILES, TEST_FILE]):
            return candidate
    raise ConfigError("data.root", "no CIFAR-10 python batches (data_batch_1..5, test_batch) there "
                      "or in its cifar-10-batches-py/", root)


class BatchUnpickler(pickle.Unpickler):
    """CIFAR-10's python batches are pickles of `{b"data": uint8 array, b"labels": [int], ...}`.
    Only numpy's array and scalar reconstruction may be called while reading one, so a
    doctored file in `data.root` cannot run code (a plain `pickle.load` would run anything)."""

    NUMPY = {"numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric"}
    NAMES = {"ndarray", "dtype", "_reconstruct", "scalar", "_frombuffer"}

    def find_class(self, module: str, name: str) -> object:
        if module in self.NUMPY and name in self.NAMES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} has no place in a CIFAR-10 batch")


def read_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with path.open("rb") as f:
        try:
            batch = BatchUnpickler(f, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            raise ConfigError("data.root", f"{path} is not a CIFAR-10 python batch ({err})", str(path.parent)) from None
    x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return torch.from_numpy(x.copy()), torch.tensor(batch[b"labels"], dtype=torch.int64)


def normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


def load_cifar10(*, root: Optional[str], augment: bool, **_: object) -> Dataset:
    """CIFAR-10 from the standard python-pickle batches in a local directory.

    Images stay uint8 on the device (150 MB) and are normalised per batch; with `augment`,
    training batches get MMCls's CIFAR augmentation (random crop with 4-pixel padding,
    horizontal flip), drawn from torch's global RNG so a resumed run replays it.
    """
    folder = find_batches_dir(root)
    train = [read_batch(folder / name) for name in TRAIN_FILES]
    x_train = torch.cat([x for x, _ in train])
    y_train = torch.cat([y for _, y in train])
    x_val, y_val = read_batch(folder / TEST_FILE)
    return Dataset(TensorSplit(x_train, y_train), TensorSplit(x_val, y_val), SHAPE, 10,
                   train_transform=random_crop_flip if augment else None, input_transform=normalise)


def describe_cifar10(**_: object) -> DataInfo:
    return DataInfo(SHAPE, 10, NUM_TRAIN)


def check_cifar10_files(*, root: Optional[str], **_: object) -> None:
    find_batches_dir(root)
