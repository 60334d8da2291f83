"""The tutorial's `MyOptimizerConstructor`, as optkit takes it: a callable
`(model, optimizer_cfg, paramwise_cfg) -> torch.optim.Optimizer`.

    python train.py optimizer_constructor._target_=custom_opt.constructor.linear_probe
"""
from __future__ import annotations

import torch
from hydra.utils import instantiate
from torch import nn


def linear_probe(model: nn.Module, optimizer_cfg, paramwise_cfg) -> torch.optim.Optimizer:
    """Train the classifier `head` only: every other parameter is frozen and left out, and
    the head's bias gets no weight decay. The optimizer class and its arguments still come
    from `optimizer` (a partial: the param groups are passed here)."""
    make = instantiate(optimizer_cfg, _convert_="all")
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith("head."))
    head = dict(model.head.named_parameters())
    return make([{"params": [head["weight"]], "name": "probe"},
                 {"params": [head["bias"]], "weight_decay": 0.0, "name": "probe.bias"}])
