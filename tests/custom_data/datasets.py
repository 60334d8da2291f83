"""Map-style data sets for the streaming tests: optkit's synthetic data one sample at a time
(so a streamed run can be compared with the in-memory one), optionally with random noise
from the global RNG (augmentation), and samples that are not (input, label)."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from optkit.data import load_synthetic

SYNTHETIC = dict(num_train=300, num_val=100, shape=[1, 8, 8], num_classes=10, seed=0)


class SyntheticSplit(Dataset):
    def __init__(self, split: str = "train", noise: float = 0.0, with_classes: bool = True) -> None:
        data = load_synthetic(**SYNTHETIC)
        tensors = data.train if split == "train" else data.val
        self.x, self.y = tensors.x, tensors.y
        self.noise = noise
        if with_classes:
            self.classes = [str(c) for c in range(SYNTHETIC["num_classes"])]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.x[index]
        if self.noise:
            x = x + self.noise * torch.randn(x.shape)
        return x, int(self.y[index])


class NotAPair(SyntheticSplit):
    def __getitem__(self, index: int) -> torch.Tensor:
        return self.x[index]


class FloatLabels(SyntheticSplit):
    def __getitem__(self, index: int) -> tuple[torch.Tensor, float]:
        return self.x[index], 0.5


class BadFile(SyntheticSplit):
    """Sample `bad` cannot be read, as a file Pillow cannot decode."""

    def __init__(self, bad: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bad = bad

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if index == self.bad:
            raise OSError(f"cannot identify image file 'sample_{index}.png'")
        return super().__getitem__(index)


def make_splits(split: str = "train") -> SyntheticSplit:
    """A factory instead of a class."""
    return SyntheticSplit(split)
