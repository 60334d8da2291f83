"""`data=dataset`: train and val splits from any map-style `torch.utils.data.Dataset`.

`data.train` and `data.val` each hold a `_target_` (a Dataset class, or a function
returning one) and its keyword arguments. A sample is `(input, label)`: the input a tensor
(or numpy array) of a fixed shape, the label an integer class. The model's `in_shape` is the
first training sample's shape; `num_classes` is `data.num_classes` when given, else the
length of the training split's `classes` attribute (torchvision's convention).
"""
from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np
import torch

from optkit.data.stream import LoaderSettings, StreamData, seeded
from optkit.data.tensors import DataInfo
from optkit.errors import ConfigError
from optkit.instantiate import instantiate_at


def build_split(key: str, node: Any) -> Any:
    """Instantiate the data set at config `key`; it must be map-style and not empty."""
    dataset = instantiate_at(key, node)
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise ConfigError(f"{key}._target_", "must build a map-style Dataset (with __getitem__ and __len__), "
                          f"built a {type(dataset).__name__}", node.get("_target_"))
    if len(dataset) == 0:
        raise ConfigError(f"{key}._target_", "built an empty data set", node.get("_target_"))
    return dataset


def is_label(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and not value.is_floating_point() and value.dtype != torch.bool
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


def sample_shape(key: str, dataset: Any) -> tuple[int, ...]:
    """The input shape of sample 0, which must be `(input, label)` (read under its own seed:
    building the data leaves the global RNGs, and so the model's initial weights, alone)."""
    with seeded(0):
        sample = dataset[0]
    if not (isinstance(sample, (tuple, list)) and len(sample) == 2):
        raise ConfigError(key, f"a sample must be (input, label), sample 0 is a {type(sample).__name__}"
                          f"{f' of {len(sample)}' if isinstance(sample, (tuple, list)) else ''}")
    x, y = sample
    if not isinstance(x, (torch.Tensor, np.ndarray)):
        raise ConfigError(key, f"a sample's input must be a tensor or numpy array, sample 0's is a {type(x).__name__}")
    if not is_label(y):
        raise ConfigError(key, f"a sample's label must be an integer class, sample 0's is {y!r}")
    return tuple(x.shape)


def class_count(num_classes: Optional[int], train: Any) -> int:
    if num_classes is not None:
        if num_classes < 2:
            raise ConfigError("data.num_classes", "must be >= 2", num_classes)
        return num_classes
    classes = getattr(train, "classes", None)
    if classes is None:
        raise ConfigError("data.num_classes", "the training set has no `classes` attribute; set +data.num_classes=N"
                          " (data.num_classes=N)")
    return len(classes)


def build_splits(train: Any, val: Any, num_classes: Optional[int]) -> tuple[Any, Any, DataInfo]:
    """Both splits, checked: samples of one shape, a class count."""
    train_set, val_set = build_split("data.train", train), build_split("data.val", val)
    shape = sample_shape("data.train", train_set)
    val_shape = sample_shape("data.val", val_set)
    if val_shape != shape:
        raise ConfigError("data.val", f"samples of shape {list(val_shape)}, the training samples' is {list(shape)}")
    return train_set, val_set, DataInfo(shape, class_count(num_classes, train_set), len(train_set))


def load_dataset(*, train: Any, val: Any, num_classes: Optional[int] = None, num_workers: int = 2,
                 pin_memory: bool = True, persistent_workers: bool = True, prefetch_factor: Optional[int] = 2,
                 **_: object) -> StreamData:
    """The two splits, streamed through a DataLoader (`optkit.data.stream`)."""
    train_set, val_set, info = build_splits(train, val, num_classes)
    return StreamData(train_set, val_set, info.in_shape, info.num_classes,
                      LoaderSettings(num_workers, pin_memory, persistent_workers, prefetch_factor))


def describe_dataset(*, train: Any, val: Any, num_classes: Optional[int] = None, **_: object) -> DataInfo:
    """Built to be described: a map-style data set reads its samples lazily, so this costs
    the construction and one sample of each split."""
    return build_splits(train, val, num_classes)[2]
