"""Optimizer and param-group construction with MMCV's paramwise rules, merged groups."""
from optkit.optim.build import build_optimizer, default_constructor, kernel
from optkit.optim.groups import DCN_TYPES, build_param_groups, describe_param_groups
from optkit.optim.layer_decay import layer_decay_constructor
from optkit.optim.muon import MuonAdamW
from optkit.optim.sam import SAM

__all__ = ["DCN_TYPES", "MuonAdamW", "SAM", "build_optimizer", "build_param_groups", "default_constructor",
           "describe_param_groups", "kernel", "layer_decay_constructor"]
