from __future__ import annotations

import math

import torch

from optkit.data.tensors import DataInfo, Dataset, TensorSplit
from optkit.errors import ConfigError


def load_synthetic(*, num_train: int, num_val: int, shape: list[int], num_classes: int, seed: int,
                   **_: object) -> Dataset:
    """Gaussian inputs labelled by a fixed random two-layer teacher.

    Learnable (unlike random labels) yet of any size and shape, for tests and benchmarks.
    Everything depends on `seed` alone.
    """
    generator = torch.Generator().manual_seed(seed)
    features = math.prod(shape)
    x = torch.randn(num_train + num_val, *shape, generator=generator)
    hidden = torch.randn(features, 64, generator=generator) / math.sqrt(features)
    readout = torch.randn(64, num_classes, generator=generator) / 8.0
    y = (torch.tanh(x.reshape(len(x), -1) @ hidden) @ readout).argmax(dim=1)
    train = TensorSplit(x[:num_train], y[:num_train])
    val = TensorSplit(x[num_train:], y[num_train:])
    return Dataset(train, val, tuple(shape), num_classes)


def describe_synthetic(*, num_train: int, num_val: int, shape: list[int], num_classes: int,
                       **_: object) -> DataInfo:
    for key, value, least in (("num_train", num_train, 1), ("num_val", num_val, 1), ("num_classes", num_classes, 2)):
        if value < least:
            raise ConfigError(f"data.{key}", f"must be >= {least}", value)
    if not shape or any(size < 1 for size in shape):
        raise ConfigError("data.shape", "must be a non-empty list of sizes >= 1", list(shape))
    return DataInfo(tuple(shape), num_classes, num_train)
