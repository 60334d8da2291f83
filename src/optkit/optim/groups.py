"""Param groups: MMCV's per-parameter rules, merged into one group per distinct (lr, wd).

MMCV and MMEngine build one param group per parameter, which makes torch's foreach and
fused kernels run on one-tensor lists. Here parameters whose rules give the same
(lr, weight_decay) share a group, in first-appearance order, and every group is named after
the rules that produced it (`default`, `norm`, `bias`, a custom key, ...).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Iterator, Mapping, Optional

from torch import nn

from optkit.errors import ConfigError
from optkit.optim.paramwise import Rule, check_paramwise, rule_for, sorted_custom_keys

# Module types whose children count as "inside a deformable conv" (MMCV: mmcv.ops
# DeformConv2d / ModulatedDeformConv2d, only when its compiled ops exist). Register yours.
DCN_TYPES: list[type] = []


def as_mapping(paramwise: Any) -> dict[str, Any]:
    """Accepts the dataclass, an OmegaConf node, a dict or None."""
    if paramwise is None:
        return {}
    if dataclasses.is_dataclass(paramwise):
        return dataclasses.asdict(paramwise)
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(paramwise, DictConfig):
            return OmegaConf.to_container(paramwise, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return dict(paramwise)


def is_plain(paramwise: Mapping[str, Any]) -> bool:
    """MMCV: no (or an empty) paramwise_cfg means one group of `model.parameters()`."""
    return not any(value not in (None, False, {}) for value in paramwise.values())


def walk(module: nn.Module, prefix: str = "", in_dcn: bool = False) -> Iterator[tuple[nn.Module, str, str, bool]]:
    """(owner, name, full name, in_dcn) in MMCV's order: own parameters, then children."""
    for name, _ in module.named_parameters(recurse=False):
        yield module, name, f"{prefix}.{name}", in_dcn
    child_in_dcn = isinstance(module, tuple(DCN_TYPES))
    for child_name, child in module.named_children():
        yield from walk(child, f"{prefix}.{child_name}" if prefix else child_name, child_in_dcn)


def param_rules(model: nn.Module, paramwise: Mapping[str, Any]) -> list[tuple[str, nn.Parameter, Optional[Rule]]]:
    """Every kept parameter with its rule (None for frozen ones), in traversal order."""
    keys = sorted_custom_keys(paramwise.get("custom_keys") or {})
    kept: list[tuple[str, nn.Parameter, Optional[Rule]]] = []
    seen: set[int] = set()
    for module, name, full_name, in_dcn in walk(model):
        param = getattr(module, name)
        if not param.requires_grad:
            kept.append((full_name.lstrip("."), param, None))
            continue
        if id(param) in seen and paramwise.get("bypass_duplicate"):
            warnings.warn(f"{full_name.rsplit('.', 1)[0]} is duplicate. It is skipped since bypass_duplicate=True")
            continue
        seen.add(id(param))
        kept.append((full_name.lstrip("."), param, rule_for(module, name, full_name, paramwise, keys, in_dcn)))
    return kept


def unmatched_custom_keys(model: nn.Module, custom_keys: Mapping[str, Any]) -> list[str]:
    full_names = [full for _, _, full, _ in walk(model)]
    return [key for key in custom_keys if not any(key in full for full in full_names)]


def build_param_groups(
    model: nn.Module,
    *,
    lr: Optional[float],
    weight_decay: Optional[float],
    paramwise: Any = None,
) -> list[dict[str, Any]]:
    """torch param-group dicts (`params`, `lr`, `weight_decay`, `name`) for `model`.

    `lr=None` (a custom optimizer without an lr) is allowed only without paramwise rules.
    `weight_decay=None` means the optimizer config has none: groups then carry no
    `weight_decay` key and the optimizer's own default applies (AdamW: 0.01), as in MMCV.
    """
    paramwise = as_mapping(paramwise)
    model = getattr(model, "module", model)
    if is_plain(paramwise):
        group: dict[str, Any] = {"params": list(model.parameters()), "name": "default"}
        if lr is not None:
            group["lr"] = lr
        if weight_decay is not None:
            group["weight_decay"] = weight_decay
        return [group]
    if lr is None:
        raise ConfigError("paramwise", "per-parameter rules need a base lr (optimizer.lr)", None)
    check_paramwise(paramwise, weight_decay)
    custom_keys = paramwise.get("custom_keys") or {}
    missing = unmatched_custom_keys(model, custom_keys)
    if missing:
        names = [name for name, _ in model.named_parameters()]
        raise ConfigError(f"paramwise.custom_keys.{missing[0]}", "matches no parameter name", missing[0], names)
    merged: dict[tuple[float, Optional[float]], dict[str, Any]] = {}
    for _, param, rule in param_rules(model, paramwise):
        rule = rule or Rule(1.0, 1.0, "frozen")
        group_lr = lr * rule.lr_mult
        group_wd = None if weight_decay is None else weight_decay * rule.decay_mult
        group = merged.setdefault((group_lr, group_wd), {"params": [], "lr": group_lr, "labels": []})
        group["params"].append(param)
        if rule.label not in group["labels"]:
            group["labels"].append(rule.label)
        if group_wd is not None:
            group["weight_decay"] = group_wd
    for group in merged.values():
        group["name"] = "+".join(group.pop("labels"))
    return list(merged.values())


def describe_param_groups(groups: list[dict[str, Any]], model: nn.Module) -> str:
    """The dry-run table: one line per group, never one per parameter."""
    names = {id(p): n for n, p in getattr(model, "module", model).named_parameters(remove_duplicate=False)}
    header = f"{'group':<24} {'tensors':>7} {'elements':>10} {'lr':>10} {'weight_decay':>12}  examples"
    lines = [header, "-" * len(header)]
    for group in groups:
        params = group["params"]
        examples = ", ".join(names.get(id(p), "?") for p in params[:3]) + (", ..." if len(params) > 3 else "")
        wd = group.get("weight_decay")
        wd_text = "default" if wd is None else f"{wd:.4g}"
        elements = sum(p.numel() for p in params)
        lines.append(f"{group['name']:<24} {len(params):>7} {elements:>10} {group['lr']:>10.4g} {wd_text:>12}  {examples}")
    return "\n".join(lines)
