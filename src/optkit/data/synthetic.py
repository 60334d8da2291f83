from __future__ import annotations

import math

import torch

from optkit.data.tensors import DataInfo, Dataset, TensorSplit


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


def describe_synthetic(*, num_train: int, shape: list[int], num_classes: int, **_: object) -> DataInfo:
    return DataInfo(tuple(shape), num_classes, num_train)
