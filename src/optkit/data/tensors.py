"""An in-memory data set: tensors on the training device, batched by index permutation.

No DataLoader and no workers: a batch is `x[index]`, one gather on the device. The order
of an epoch depends only on (seed, epoch), so a resumed run replays exactly the batches the
interrupted one would have seen; under DDP each rank takes a strided shard of the same
permutation, padded like `DistributedSampler` so every rank has the same number of batches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

import torch

Transform = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class TensorSplit:
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.y.shape[0]

    def to(self, device: torch.device) -> "TensorSplit":
        return TensorSplit(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class DataInfo:
    """What building the model and the timeline need to know of a data set, without loading
    it (`optkit.data.describe`; the lr-curve tool builds the model on the meta device)."""

    in_shape: tuple[int, ...]
    num_classes: int
    num_train: int


@dataclass
class Dataset:
    """Train and validation splits plus what a model needs to know about them."""

    train: TensorSplit
    val: TensorSplit
    in_shape: tuple[int, ...]
    num_classes: int
    train_transform: Optional[Transform] = None  # per training batch, on stored values (augmentation)
    input_transform: Optional[Transform] = None  # per batch, stored → model input (uint8 → normalised)

    def train_batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A training micro-batch: gathered, converted, augmented."""
        x = self.train.x[index]
        if self.train_transform is not None:
            x = self.train_transform(x)
        if self.input_transform is not None:
            x = self.input_transform(x)
        return x, self.train.y[index]

    def begin_epoch(self, epoch: int, windows: Sequence[Any], seed: int, rank: int) -> None:
        """Nothing to prepare: a batch is one gather (`optkit.data.StreamData` starts its loader here)."""

    @property
    def device(self) -> torch.device:
        return self.val.y.device

    @property
    def index_device(self) -> torch.device:
        """Where the epoch's index tensors go: beside the tensors they gather from."""
        return self.train.y.device

    def val_batches(self, batch_size: int, start: int, stop: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Validation samples `start:stop` as model inputs and targets, in batches."""
        for s in batch_slices(stop - start, batch_size, drop_last=False):
            x = self.val.x[start + s.start:start + s.stop]
            yield (x if self.input_transform is None else self.input_transform(x)), self.val.y[start + s.start:start + s.stop]

    def info(self) -> DataInfo:
        return DataInfo(tuple(self.in_shape), self.num_classes, len(self.train))

    def to(self, device: torch.device) -> "Dataset":
        return Dataset(self.train.to(device), self.val.to(device), self.in_shape, self.num_classes,
                       self.train_transform, self.input_transform)


def epoch_order(n: int, epoch: int, seed: int, shuffle: bool) -> torch.Tensor:
    """The sample order of an epoch: a function of (seed, epoch) only."""
    if not shuffle:
        return torch.arange(n)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


def shard(order: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """This rank's strided share of `order`, padded by wrapping as DistributedSampler does."""
    if world == 1:
        return order
    total = math.ceil(len(order) / world) * world
    padded = torch.cat([order, order[: total - len(order)]]) if total > len(order) else order
    return padded[rank:total:world]


def batch_slices(n: int, batch_size: int, drop_last: bool) -> list[slice]:
    stop = n - n % batch_size if drop_last else n
    return [slice(i, min(i + batch_size, n)) for i in range(0, stop, batch_size)]
