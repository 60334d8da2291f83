"""The tutorial's `MyOptimizerConstructor`, as optkit takes it: a callable
`(model, optimizer_cfg, paramwise_cfg) -> torch.optim.Optimizer`.

    python train.py optimizer_constructor._target_=examples.my_constructor.decay_matrices_only

MMCV's constructor is a class built from (optimizer_cfg, paramwise_cfg) and then called
with the model; optkit calls one function with all three. `optimizer_cfg` is the `optimizer`
node: `hydra.utils.instantiate` turns it into the optimizer class with its arguments bound,
waiting for the param groups; `make_optimizer` calls it with optkit's fused-kernel choice and
its checks (`make(groups)` works too). Extra fields of the `optimizer_constructor` node are keyword
arguments of the function (`+optimizer_constructor.min_ndim=3`).
"""
from __future__ import annotations

import torch
from hydra.utils import instantiate
from torch import nn

from optkit.config import ParamwiseConfig
from optkit.errors import ConfigError
from optkit.optim.build import make_optimizer
from optkit.optim.groups import as_mapping


def decay_matrices_only(model: nn.Module, optimizer_cfg, paramwise_cfg, min_ndim: int = 2) -> torch.optim.Optimizer:
    """nanoGPT's two groups: weight decay for tensors of at least `min_ndim` dimensions
    (weight matrices, conv kernels, embeddings), none for the rest (biases, norm scales),
    whatever their module is. The rule replaces the paramwise rules, so none may be set."""
    unset = as_mapping(ParamwiseConfig())
    rules = {k: v for k, v in as_mapping(paramwise_cfg).items() if v != unset.get(k)}
    if rules:
        raise ConfigError("paramwise", "decay_matrices_only makes its own groups; use paramwise=none", rules)
    make = instantiate(optimizer_cfg, _convert_="all")
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= min_ndim]
    rest = [p for p in params if p.dim() < min_ndim]
    groups = [{"params": decay, "name": "decay"}, {"params": rest, "weight_decay": 0.0, "name": "no_decay"}]
    return make_optimizer(make, model, groups)
