"""Embedded and local data sets, held in memory and batched by index permutation."""
from optkit.data.cifar10 import load_cifar10
from optkit.data.describe import DESCRIPTIONS, describe
from optkit.data.digits import load_digits
from optkit.data.synthetic import load_synthetic
from optkit.data.tensors import DataInfo, Dataset, TensorSplit, batch_slices, epoch_order, eval_batches, shard

__all__ = [
    "DESCRIPTIONS",
    "DataInfo",
    "Dataset",
    "TensorSplit",
    "batch_slices",
    "describe",
    "epoch_order",
    "eval_batches",
    "load_cifar10",
    "load_digits",
    "load_synthetic",
    "shard",
]
