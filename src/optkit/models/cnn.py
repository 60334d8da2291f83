from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv-BN-ReLU stages, one depthwise-separable block, pooling and a linear head.

    Holds every layer kind that paramwise rules single out: plain conv weights, biases,
    BatchNorm, a depthwise conv (`groups == in_channels`), a LayerNorm before the head.
    """

    def __init__(self, *, in_shape: tuple[int, ...], num_classes: int, channels: list[int], dropout: float) -> None:
        super().__init__()
        c_in = in_shape[0]
        stages: list[nn.Module] = []
        for c in channels:
            stages += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.stem = nn.Sequential(*stages)
        self.dwconv = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in)
        self.pwconv = nn.Conv2d(c_in, c_in, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = nn.LayerNorm(c_in)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = x + self.pwconv(torch.relu(self.dwconv(x)))
        x = self.norm(self.pool(x).flatten(1))
        return self.head(self.dropout(x))
