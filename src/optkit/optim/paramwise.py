"""MMCV 1.x `DefaultOptimizerConstructor` rules: each parameter's lr and weight-decay multipliers.

The rules, in MMCV's order (mmcv/runner/optimizer/default_constructor.py, 1.7.2, checked
against it by tests/test_optim_mmcv_parity.py):

1. A frozen parameter (`requires_grad=False`) gets the base lr and weight decay and no
   other rule (groups.py handles it; custom keys never reach it).
2. `custom_keys {substring: {lr_mult, decay_mult}}`: keys sorted alphabetically, then
   stably by length, longest first; the first key that is a *substring* of
   `f"{module_path}.{name}"` (`".name"` for a parameter of the root module, so the key
   `.logit_scale` matches it) wins: `lr = base_lr·lr_mult`, `wd = base_wd·decay_mult` (each
   default 1) and no other rule applies. `'head'` also matches `lm_head.*`; `'backbone'`
   beats `'dw'` on `backbone.dw.weight` because it is longer.
3. Otherwise the lr: a parameter named exactly `bias` whose module is neither a norm layer
   nor a child of a deformable conv gets `bias_lr_mult` (depthwise-conv biases included);
   a Conv2d child of a deformable conv whose path contains `conv_offset` gets
   `dcn_offset_lr_mult` on weight and bias.
4. And the weight decay, first match wins: a norm layer (BatchNorm 1d/2d/3d, SyncBatchNorm,
   InstanceNorm, GroupNorm, LayerNorm) → `norm_decay_mult` on weight and bias; a depthwise
   Conv2d (`in_channels == groups`, so `Conv2d(1, c, k)` counts, Conv1d never) →
   `dwconv_decay_mult` on weight and bias; a `bias` outside deformable convs →
   `bias_decay_mult`. So a norm bias gets neither bias multiplier, a depthwise-conv bias gets
   `bias_lr_mult` and `dwconv_decay_mult`. Last, MMEngine's `flat_decay_mult`
   (`DefaultOptimWrapperConstructor`, which MMCV lacks): any other 1-d parameter outside
   deformable convs (a bias when `bias_decay_mult` is unset, a token or scale vector).
   MMEngine tries bias before depthwise conv and skips a rule whose multiplier is unset;
   `rule_order: mmengine` selects that order (`decay_rule`), MMCV's is the default.

A multiplier that is not set is 1. Without a base weight decay (the optimizer config has no
`weight_decay`), setting any decay multiplier is an error, as in MMCV; lr multipliers are fine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from torch import nn

from optkit.errors import ConfigError

NORM_TYPES: tuple[type, ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.LayerNorm,
)
LR_OPTIONS = ("bias_lr_mult", "dcn_offset_lr_mult")
DECAY_OPTIONS = ("bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult", "flat_decay_mult")
CUSTOM_MULTS = ("lr_mult", "decay_mult")
RULE_ORDERS = ("mmcv", "mmengine")


@dataclass(frozen=True)
class Rule:
    """What one parameter gets: multipliers of the base lr and weight decay, and which
    configured rule decided them (`label`, used to name the merged group)."""

    lr_mult: float
    decay_mult: float
    labels: tuple[str, ...]
    custom: bool = False  # decided by a custom key (labels = (the key,))


FROZEN = Rule(1.0, 1.0, ("frozen",))  # rule 1: base values, no other rule
# How rule labels are ordered in a group name (custom keys come first, in order of appearance).
LABEL_ORDER = ("default", "bias", "norm", "dwconv", "flat", "dcn_offset", "frozen")


def is_depthwise(module: nn.Module) -> bool:
    """MMCV's test, quirk included: `Conv2d(1, c, k)` (in_channels == groups == 1) counts."""
    return isinstance(module, nn.Conv2d) and module.in_channels == module.groups


def sorted_custom_keys(custom_keys: Mapping[str, Any]) -> list[str]:
    """MMCV's precedence: alphabetical, then stably by length, longest first."""
    return sorted(sorted(custom_keys), key=len, reverse=True)


def check_multiplier(key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(key, "must be a number >= 0", value)


def check_paramwise(paramwise: Mapping[str, Any], base_wd: Optional[float]) -> None:
    """MMCV `_validate_cfg` (decay rules need a base weight decay) plus types and ranges."""
    for name in (*LR_OPTIONS, *DECAY_OPTIONS):
        check_multiplier(f"paramwise.{name}", paramwise.get(name))
    if paramwise.get("rule_order", "mmcv") not in RULE_ORDERS:
        raise ConfigError("paramwise.rule_order", "must be one of the references' orders", paramwise["rule_order"],
                          RULE_ORDERS)
    custom_keys = paramwise.get("custom_keys") or {}
    if not isinstance(custom_keys, Mapping):
        raise ConfigError("paramwise.custom_keys", "must be a mapping {substring: {lr_mult, decay_mult}}", custom_keys)
    for key, mults in custom_keys.items():
        if not isinstance(mults, Mapping):
            raise ConfigError(f"paramwise.custom_keys.{key}", "must be a mapping {lr_mult, decay_mult}", mults)
        for name, value in mults.items():
            if name not in CUSTOM_MULTS:
                raise ConfigError(f"paramwise.custom_keys.{key}", "unknown multiplier", name, CUSTOM_MULTS)
            check_multiplier(f"paramwise.custom_keys.{key}.{name}", value)
    if base_wd is not None:
        return
    for key, mults in custom_keys.items():
        if "decay_mult" in mults:
            raise ConfigError(f"paramwise.custom_keys.{key}.decay_mult",
                              "needs a base weight decay (set optimizer.weight_decay)", mults["decay_mult"])
    for name in DECAY_OPTIONS:
        if paramwise.get(name) is not None:
            raise ConfigError(f"paramwise.{name}", "needs a base weight decay (set optimizer.weight_decay)",
                              paramwise[name])


def custom_rule(full_name: str, custom_keys: Mapping[str, Any], keys: list[str]) -> Optional[Rule]:
    """Rule 2: the longest matching custom key, or None."""
    for key in keys:
        if key in full_name:
            mults = custom_keys[key]
            return Rule(mults.get("lr_mult", 1.0), mults.get("decay_mult", 1.0), (key,), custom=True)
    return None


def decay_rule(module: nn.Module, name: str, in_dcn: bool, paramwise: Mapping[str, Any],
               mult: Callable[[str, str], float]) -> float:
    """Rule 4, the first that applies. MMCV tries norm, depthwise conv, bias, each whether its
    multiplier is set or not (the default is 1). `rule_order: mmengine` is
    `DefaultOptimWrapperConstructor`'s: norm, bias, depthwise conv, each only where its
    multiplier is set, so with `bias_decay_mult` alone a norm or depthwise-conv bias gets it
    in MMEngine and not in MMCV. Both end with `flat_decay_mult` for other 1-d parameters."""
    is_set = {option: paramwise.get(option) is not None for option in DECAY_OPTIONS}
    bias = name == "bias" and not in_dcn
    if paramwise.get("rule_order", "mmcv") == "mmengine":
        rules = [(isinstance(module, NORM_TYPES) and is_set["norm_decay_mult"], "norm_decay_mult", "norm"),
                 (bias and is_set["bias_decay_mult"], "bias_decay_mult", "bias"),
                 (is_depthwise(module) and is_set["dwconv_decay_mult"], "dwconv_decay_mult", "dwconv")]
    else:
        rules = [(isinstance(module, NORM_TYPES), "norm_decay_mult", "norm"),
                 (is_depthwise(module), "dwconv_decay_mult", "dwconv"),
                 (bias and is_set["bias_decay_mult"], "bias_decay_mult", "bias")]
    rules.append((getattr(module, name).ndim == 1 and not in_dcn, "flat_decay_mult", "flat"))
    return next((mult(option, label) for applies, option, label in rules if applies), 1.0)


def rule_for(module: nn.Module, name: str, full_name: str, paramwise: Mapping[str, Any], keys: list[str],
             in_dcn: bool) -> Rule:
    """The rule for trainable parameter `name` owned directly by `module` (rules 2–4 above).
    `full_name` is MMCV's `f"{module_path}.{name}"`; `keys` the sorted custom keys;
    `in_dcn` whether `module` is a direct child of a deformable conv.

    The labels are the *configured* options that applied (`bias`, `dcn_offset`, `norm`,
    `dwconv`), or the custom key, or `default`; an option left unset multiplies by 1 and
    names nothing, so `norm_decay_mult=0` alone gives the groups `default` and `norm`.
    """
    custom = custom_rule(full_name, paramwise.get("custom_keys") or {}, keys)
    if custom is not None:
        return custom
    labels: list[str] = []

    def mult(option: str, label: str) -> float:
        value = paramwise.get(option)
        if value is None:
            return 1.0
        if label not in labels:
            labels.append(label)
        return value

    lr_mult, decay_mult = 1.0, 1.0
    is_norm = isinstance(module, NORM_TYPES)
    if name == "bias" and not (is_norm or in_dcn):
        lr_mult = mult("bias_lr_mult", "bias")
    if in_dcn and "conv_offset" in full_name.rsplit(".", 1)[0] and isinstance(module, nn.Conv2d):
        lr_mult = mult("dcn_offset_lr_mult", "dcn_offset")
    decay_mult = decay_rule(module, name, in_dcn, paramwise, mult)
    return Rule(lr_mult, decay_mult, tuple(labels) or ("default",))
