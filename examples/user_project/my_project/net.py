"""A model of the project's own: any nn.Module whose constructor takes `in_shape` and
`num_classes` (optkit passes the data set's) plus the fields of its YAML file."""
from __future__ import annotations

import math

from torch import nn


class MyNet(nn.Sequential):
    def __init__(self, *, in_shape: tuple[int, ...], num_classes: int, width: int) -> None:
        super().__init__(nn.Flatten(), nn.Linear(math.prod(in_shape), width), nn.Tanh(), nn.Linear(width, num_classes))
