from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Module):
    """Flatten, then Linear → ReLU (→ Dropout) per hidden width, then a linear head. No norm
    layers, so accumulation and DDP results are exact against the big batch."""

    def __init__(self, *, in_shape: tuple[int, ...], num_classes: int, hidden: list[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
