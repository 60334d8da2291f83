"""Model factories for `model=custom`: own argument names, data arguments via **kwargs,
one that rejects its arguments, one that returns no module."""
from __future__ import annotations

import math

from torch import nn


def wide(width: int, **data) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(data["in_shape"]), width), nn.ReLU(),
                         nn.Linear(width, data["num_classes"]))


def picky(width: int) -> nn.Module:
    if width % 8:
        raise ValueError(f"width must be a multiple of 8, got {width}")
    return nn.Linear(64, width)


def not_a_model(width: int) -> list:
    return [width]
