"""MMCV 1.x `DefaultOptimizerConstructor` rules: each parameter's (lr, weight_decay).

Rules, in MMCV's order (mmcv/runner/optimizer/default_constructor.py, 1.7):

1. Frozen (`requires_grad=False`) parameters get the base lr and weight decay and no other
   rule.
2. `custom_keys`: keys sorted alphabetically, then by length, longest first; the first key
   that is a *substring* of `f"{module_path}.{name}"` (`".name"` for a root parameter)
   wins: `lr = base_lr · lr_mult`, `wd = base_wd · decay_mult` (each default 1), and no
   other rule applies.
3. Otherwise: a parameter named exactly `bias` outside norm layers and deformable convs gets
   `bias_lr_mult`; a deformable conv's `conv_offset` Conv2d gets `dcn_offset_lr_mult`.
   Weight decay, first match wins: norm layer (BatchNorm, InstanceNorm, GroupNorm,
   LayerNorm) → `norm_decay_mult`; depthwise Conv2d (`in_channels == groups`, so
   `Conv2d(1, c, k)` counts) → `dwconv_decay_mult`; `bias` outside deformable convs →
   `bias_decay_mult`.

A multiplier that is not set is 1. Without a base weight decay (the optimizer config has
none), decay multipliers are an error, as in MMCV.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from torch import nn

from optkit.errors import ConfigError

NORM_TYPES: tuple[type, ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.LayerNorm,
)


@dataclass(frozen=True)
class Rule:
    """What one parameter gets: multipliers of the base lr and weight decay, and why."""

    lr_mult: float
    decay_mult: float
    label: str


def is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and module.in_channels == module.groups


def sorted_custom_keys(custom_keys: Mapping[str, Any]) -> list[str]:
    """MMCV's precedence: alphabetical, then stably by length, longest first."""
    return sorted(sorted(custom_keys), key=len, reverse=True)


def check_paramwise(paramwise: Mapping[str, Any], base_wd: Optional[float]) -> None:
    """MMCV `_validate_cfg`: decay rules need a base weight decay."""
    custom_keys = paramwise.get("custom_keys") or {}
    if not isinstance(custom_keys, Mapping):
        raise ConfigError("paramwise.custom_keys", "must be a mapping {substring: {lr_mult, decay_mult}}", custom_keys)
    for key, mults in custom_keys.items():
        unknown = set(mults or {}) - {"lr_mult", "decay_mult"}
        if unknown:
            raise ConfigError(f"paramwise.custom_keys.{key}", "unknown multiplier", sorted(unknown)[0],
                              ["lr_mult", "decay_mult"])
    if base_wd is not None:
        return
    for key, mults in custom_keys.items():
        if "decay_mult" in (mults or {}):
            raise ConfigError(f"paramwise.custom_keys.{key}.decay_mult",
                              "needs a base weight decay (set optimizer.weight_decay)", mults["decay_mult"])
    for name in ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult"):
        if paramwise.get(name) is not None:
            raise ConfigError(f"paramwise.{name}", "needs a base weight decay (set optimizer.weight_decay)",
                              paramwise[name])


def rule_for(
    module: nn.Module,
    name: str,
    full_name: str,
    paramwise: Mapping[str, Any],
    keys: list[str],
    in_dcn: bool,
) -> Rule:
    """The MMCV rule for parameter `name` owned directly by `module` (see module docstring)."""
    custom_keys = paramwise.get("custom_keys") or {}
    for key in keys:
        if key in full_name:
            mults = custom_keys[key] or {}
            return Rule(mults.get("lr_mult", 1.0), mults.get("decay_mult", 1.0), key)

    def mult(field: str) -> float:
        value = paramwise.get(field)
        return 1.0 if value is None else value

    lr_mult, decay_mult, label = 1.0, 1.0, "default"
    is_norm = isinstance(module, NORM_TYPES)
    if name == "bias" and not (is_norm or in_dcn):
        lr_mult, label = mult("bias_lr_mult"), "bias"
    module_path = full_name.rsplit(".", 1)[0]
    if in_dcn and "conv_offset" in module_path and isinstance(module, nn.Conv2d):
        lr_mult, label = mult("dcn_offset_lr_mult"), "dcn_offset"
    if is_norm:
        decay_mult, label = mult("norm_decay_mult"), "norm"
    elif is_depthwise(module):
        decay_mult, label = mult("dwconv_decay_mult"), "dwconv"
    elif name == "bias" and not in_dcn:
        decay_mult = mult("bias_decay_mult")
    return Rule(lr_mult, decay_mult, label)
