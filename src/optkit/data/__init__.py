"""Data: embedded and local data sets held in memory and batched by index permutation
(`Dataset`), or any map-style torch Dataset streamed through a DataLoader (`StreamData`)."""
from typing import Union

from optkit.data.cifar10 import load_cifar10
from optkit.data.custom import load_dataset
from optkit.data.describe import DESCRIPTIONS, describe
from optkit.data.digits import load_digits
from optkit.data.image_folder import load_image_folder
from optkit.data.stream import DataError, StreamData
from optkit.data.synthetic import load_synthetic
from optkit.data.tensors import DataInfo, Dataset, TensorSplit, batch_slices, epoch_order, shard

DataSource = Union[Dataset, StreamData]  # what the loop trains from

__all__ = [
    "DESCRIPTIONS",
    "DataError",
    "DataInfo",
    "DataSource",
    "Dataset",
    "StreamData",
    "TensorSplit",
    "batch_slices",
    "describe",
    "epoch_order",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_synthetic",
    "shard",
]
