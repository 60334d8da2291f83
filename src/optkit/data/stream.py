"""Any map-style `torch.utils.data.Dataset`, streamed through a `DataLoader`.

The loop asks for its micro-batches exactly as it does of the in-memory `Dataset`: each
optimizer step's windows hold index tensors cut from the epoch's order (`epoch_order`,
`shard`), a pure function of (seed, epoch). `begin_epoch` hands the remaining windows of
the epoch to the loader's batch sampler, in order; `train_batch` then takes the loader's
next batch, which is the batch of that index tensor. A resumed run starts the loader at the
step it stopped in, so it sees exactly the batches the uninterrupted run saw.

Random per-sample augmentation inside the data set is seeded from (seed, rank, epoch,
sample index) right before each `dataset[index]` (torch, Python and numpy RNGs): the same
sample gets the same augmentation whatever the number of workers and after a resume, and
different ranks draw differently. The loader gets its own generator, so starting one never
draws from the global RNG that dropout and the checkpoint's RNG state use.
"""
from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from optkit.data.tensors import DataInfo
from optkit.errors import OptkitError

MIX = 1_000_003  # the same odd multiplier epoch_order mixes (seed, epoch) with


class DataError(OptkitError):
    """A sample that cannot be read (an undecodable file) or a loader worker that died."""

    label = "data error"


def sample_seed(seed: int, rank: int, epoch: int, index: int) -> int:
    """The RNG seed of sample `index` in `epoch` on `rank`: distinct for each tuple in practice."""
    return (((seed * MIX + rank) * MIX + epoch) * MIX + index) % 2**63


def seed_rngs(key: int) -> None:
    """Torch's CPU, Python's and numpy's RNGs seeded with `key` (`torch.manual_seed` would also
    seed every accelerator's generators: milliseconds a call; the CPU generator takes microseconds)."""
    torch.default_generator.manual_seed(key)
    random.seed(key)
    np.random.seed(key % 2**32)


@contextlib.contextmanager
def rngs_kept() -> Iterator[None]:
    """In the training process (`num_workers=0`, or reading sample 0 at build time), which
    trains with the same RNGs, their states are put back on leaving; a worker needs nothing
    back. (Saving numpy's and Python's states is the costly part: once per batch, not per sample.)"""
    if torch.utils.data.get_worker_info() is not None:
        yield
        return
    states = torch.default_generator.get_state(), random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        torch.default_generator.set_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])


@contextlib.contextmanager
def seeded(key: int) -> Iterator[None]:
    """The RNGs seeded with `key` inside, the training process's states kept."""
    with rngs_kept():
        seed_rngs(key)
        yield


class SeededSamples(torch.utils.data.Dataset):
    """`dataset` read by keys `(seed key, index)`: each sample under its own seed."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        return self.__getitems__([key])[0]

    def __getitems__(self, keys: Sequence[tuple[int, int]]) -> list[Any]:
        """A batch (the DataLoader's fetcher calls this when it exists)."""
        samples = []
        with rngs_kept():
            for seed, index in keys:
                seed_rngs(seed)
                samples.append(self.dataset[index])
        return samples


class BatchList:
    """A batch sampler whose batches are set before each pass (the epoch's remaining windows)."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, int]]] = []

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


@dataclass(frozen=True)
class LoaderSettings:
    """`data.num_workers`, `data.pin_memory`, `data.persistent_workers`, `data.prefetch_factor`."""

    num_workers: int = 2
    pin_memory: bool = True
    persistent_workers: bool = True
    prefetch_factor: Optional[int] = 2

    def loader(self, dataset: Any, sampler: BatchList, device: torch.device) -> DataLoader:
        workers = self.num_workers > 0
        return DataLoader(SeededSamples(dataset), batch_sampler=sampler, num_workers=self.num_workers,
                          pin_memory=self.pin_memory and device.type == "cuda",
                          persistent_workers=self.persistent_workers and workers,
                          prefetch_factor=self.prefetch_factor if workers else None,
                          generator=torch.Generator())


def fetched(batches: Iterator[Any], what: str) -> Any:
    """The next batch; a sample that fails to load or a worker that died is one `DataError`
    (the worker's traceback names the file; its last line says what went wrong)."""
    try:
        return next(batches)
    except StopIteration:
        raise
    except Exception as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        raise DataError(f"{what}: {lines[-1] if lines else type(err).__name__}") from None


class StreamData:
    """Train and validation `torch.utils.data.Dataset`s, batched by a `DataLoader`; the same
    interface as the in-memory `optkit.data.Dataset` (`train_batch`, `val_batches`, ...)."""

    def __init__(self, train: Any, val: Any, in_shape: tuple[int, ...], num_classes: int,
                 settings: LoaderSettings) -> None:
        self.train, self.val = train, val
        self.in_shape, self.num_classes = tuple(in_shape), num_classes
        self.settings = settings
        self.device = torch.device("cpu")
        self.index_device = torch.device("cpu")
        self.train_sampler, self.val_sampler = BatchList(), BatchList()
        self.train_loader: Optional[DataLoader] = None
        self.val_loader: Optional[DataLoader] = None
        self.batches: Iterator[Any] = iter(())

    def to(self, device: torch.device) -> "StreamData":
        self.device = torch.device(device)
        return self

    def info(self) -> DataInfo:
        return DataInfo(self.in_shape, self.num_classes, len(self.train))

    def on_device(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """A collated batch on the training device (asynchronous copies from pinned memory)."""
        pinned = self.settings.pin_memory and self.device.type == "cuda"
        x, y = batch
        return x.to(self.device, non_blocking=pinned), y.to(self.device, non_blocking=pinned)

    def begin_epoch(self, epoch: int, windows: Sequence[Any], seed: int, rank: int) -> None:
        """Queue every micro-batch of `windows` (the epoch's remaining steps) in the loader."""
        self.train_sampler.batches = [[(sample_seed(seed, rank, epoch, i), i) for i in index.tolist()]
                                      for window in windows for index in window.batches]
        if self.train_loader is None:
            self.train_loader = self.settings.loader(self.train, self.train_sampler, self.device)
        self.batches = iter(self.train_loader)

    def train_batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The loader's next batch: the one `begin_epoch` queued for `index`."""
        return self.on_device(fetched(self.batches, "reading a training batch"))

    def val_batches(self, batch_size: int, start: int, stop: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Validation samples `start:stop` in batches (each under a fixed seed: a random
        validation transform gives the same numbers at every evaluation)."""
        self.val_sampler.batches = [[(sample_seed(0, 0, -1, i), i) for i in range(first, min(first + batch_size, stop))]
                                    for first in range(start, stop, batch_size)]
        if self.val_loader is None:
            self.val_loader = self.settings.loader(self.val, self.val_sampler, self.device)
        batches = iter(self.val_loader)
        for _ in range(len(self.val_sampler)):
            yield self.on_device(fetched(batches, "reading a validation batch"))
