"""Optimizer and param-group construction with MMCV's paramwise rules, merged groups."""
from optkit.optim.build import build_optimizer, default_constructor
from optkit.optim.groups import DCN_TYPES, build_param_groups, describe_param_groups

__all__ = ["DCN_TYPES", "build_optimizer", "build_param_groups", "default_constructor", "describe_param_groups"]
