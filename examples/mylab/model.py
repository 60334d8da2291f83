"""A model factory with its own argument names (optkit passes `in_shape` / `num_classes` only
to callables that take them):

    python train.py model=custom model._target_=examples.mylab.model.make_net +model.width=32 +model.n_out=3
"""
from __future__ import annotations

from torch import nn


def make_net(width: int, n_out: int) -> nn.Module:
    """Two hidden layers on 2-d points."""
    return nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, n_out))
