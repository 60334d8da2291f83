"""Points on three noisy concentric rings, one class per ring: a map-style Dataset.

    python train.py data=dataset data.train._target_=examples.mylab.data.Rings +data.train.n=3000 \
        data.val._target_=examples.mylab.data.Rings +data.val.n=600 +data.val.split=val

Sample `i` is a function of (split, i) alone; the training split adds random jitter drawn
from torch's global RNG, which optkit seeds per sample, epoch and rank.
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset


class Rings(Dataset):
    classes = ["inner", "middle", "outer"]

    def __init__(self, n: int = 3000, split: str = "train", jitter: float = 0.05) -> None:
        generator = torch.Generator().manual_seed(0 if split == "train" else 1)
        self.labels = torch.randint(0, len(self.classes), (n,), generator=generator)
        angle = torch.rand(n, generator=generator) * 2 * math.pi
        radius = 1.0 + self.labels.float() + 0.3 * torch.randn(n, generator=generator)
        self.points = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
        self.jitter = jitter if split == "train" else 0.0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        point = self.points[index]
        if self.jitter:
            point = point + self.jitter * torch.randn(2)
        return point, int(self.labels[index])
