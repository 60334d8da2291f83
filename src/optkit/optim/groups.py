"""Param groups: MMCV's per-parameter rules, merged into one group per distinct (lr, wd).

MMCV and MMEngine build one param group per parameter, which makes torch's foreach and
fused kernels run on one-tensor lists. Here every parameter first gets its own (lr,
weight_decay) exactly as MMCV computes it (paramwise.py), then parameters with the same
pair share a group. Groups come in the order their first parameter appears in MMCV's
traversal, and parameters keep that order inside a group.

Group names: each parameter carries labels — the custom key that matched it, or the
configured options that changed it (`bias`, `norm`, `dwconv`, `dcn_offset`; a
depthwise-conv bias can carry `bias` and `dwconv`), `frozen` for a parameter that does not
require grad, else `default`. A group's name joins the distinct labels of its parameters
with `+`, custom keys first (in order of appearance), then in the order `default bias norm
dwconv dcn_offset frozen`: `default`, `norm`, `bias+norm` (both no-decay rules give the same
pair), `backbone.cls_token+backbone.pos_embed`. A constructor may add a scope in front
(layer-wise decay: `layer3.bias+norm`). With no paramwise rule at all there is one group,
`default`, exactly `model.parameters()`.

Where optkit departs from MMCV (docs/optimizers.md): a custom key that matches no parameter
name is an error naming the nearest names (MMCV ignores it), one that never applies is a
warning; a tied parameter without `bypass_duplicate` is a ConfigError naming both names
(MMCV: torch's ValueError), and with it a tied *frozen* parameter is deduplicated too (MMCV
errors).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping, Optional

from torch import nn

from optkit.errors import ConfigError, nearest, warn
from optkit.instantiate import locate_at
from optkit.optim.paramwise import FROZEN, LABEL_ORDER, check_paramwise, rule_for, sorted_custom_keys
from optkit.schedule.keys import multiplier, scaled

# Module types whose direct children count as "inside a deformable conv" (MMCV: mmcv.ops
# DeformConv2d / ModulatedDeformConv2d, only when its compiled ops exist). Register a
# class here from code, or list it in the config: `paramwise.dcn_types: [pkg.mod.Class]`.
DCN_TYPES: list[type] = []


@dataclasses.dataclass
class Entry:
    """One parameter and what the rules gave it."""

    name: str
    param: nn.Parameter
    lr: float
    weight_decay: Optional[float]
    labels: tuple[str, ...]
    scope: str = ""  # set by constructors that add their own grouping (layer_decay: "layer3")


def as_mapping(paramwise: Any) -> dict[str, Any]:
    """Accepts the dataclass, an OmegaConf node, a dict or None."""
    if paramwise is None:
        return {}
    if dataclasses.is_dataclass(paramwise):
        return dataclasses.asdict(paramwise)
    from omegaconf import DictConfig, OmegaConf

    if isinstance(paramwise, DictConfig):
        return OmegaConf.to_container(paramwise, resolve=True)
    return dict(paramwise)


def is_plain(paramwise: Mapping[str, Any]) -> bool:
    """MMCV: no (or an empty) paramwise_cfg means one group of `model.parameters()`.
    optkit's config always holds every field, so "empty" means every field unset (a 0.0
    multiplier is set: `0.0 == False` in Python, hence the identity tests)."""
    return all(value is None or value is False or (isinstance(value, (dict, list)) and not value)
               for value in paramwise.values())


def resolve_dcn_types(paramwise: Mapping[str, Any]) -> tuple[type, ...]:
    """`paramwise.dcn_types` (classes or import paths) plus the `DCN_TYPES` registry."""
    found = list(DCN_TYPES)
    for i, item in enumerate(paramwise.get("dcn_types") or []):
        cls = locate_at(f"paramwise.dcn_types.{i}", item) if isinstance(item, str) else item
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise ConfigError(f"paramwise.dcn_types.{i}", "must be an nn.Module class", item)
        found.append(cls)
    return tuple(found)


def walk(module: nn.Module, dcn_types: tuple[type, ...], prefix: str = "",
         in_dcn: bool = False) -> Iterator[tuple[nn.Module, str, str, bool]]:
    """(owner, name, MMCV full name, in_dcn) in MMCV's order: a module's own parameters,
    then its children's. The full name of a root parameter is `.name` (MMCV's prefix '')."""
    for name, _ in module.named_parameters(recurse=False):
        yield module, name, f"{prefix}.{name}", in_dcn
    child_in_dcn = isinstance(module, dcn_types)
    for child_name, child in module.named_children():
        yield from walk(child, dcn_types, f"{prefix}.{child_name}" if prefix else child_name, child_in_dcn)


def param_entries(model: nn.Module, *, lr: float, weight_decay: Optional[float],
                  paramwise: Any = None) -> list[Entry]:
    """Every parameter, once, with MMCV's (lr, weight_decay) and a label, in MMCV's order.

    `weight_decay=None` (the optimizer config has none) gives entries without weight decay;
    the optimizer's own default then applies to their groups (AdamW: 0.01), as in MMCV.
    """
    paramwise = as_mapping(paramwise)
    model = getattr(model, "module", model)
    check_paramwise(paramwise, weight_decay)
    custom_keys = paramwise.get("custom_keys") or {}
    keys = sorted_custom_keys(custom_keys)
    bypass = bool(paramwise.get("bypass_duplicate")) or is_plain(paramwise)
    first_name: dict[int, str] = {}
    skipped: list[str] = []
    used_keys: set[str] = set()
    entries: list[Entry] = []
    for module, name, full_name, in_dcn in walk(model, resolve_dcn_types(paramwise)):
        param = getattr(module, name)
        clean = full_name.lstrip(".")
        if id(param) in first_name:
            if not bypass:
                raise ConfigError("paramwise.bypass_duplicate", f"{clean} is the same tensor as {first_name[id(param)]} "
                                  "(tied weights); set paramwise.bypass_duplicate=true to keep the first only", False)
            skipped.append(f"{clean} (= {first_name[id(param)]})")
            continue
        first_name[id(param)] = clean
        rule = rule_for(module, name, full_name, paramwise, keys, in_dcn) if param.requires_grad else FROZEN
        if rule.custom:
            used_keys.update(rule.labels)
        wd = None if weight_decay is None else weight_decay * rule.decay_mult
        entries.append(Entry(clean, param, lr * rule.lr_mult, wd, rule.labels))
    if skipped and paramwise.get("bypass_duplicate"):
        warn(f"paramwise.bypass_duplicate: skipped tied {', '.join(skipped)}")
    check_custom_keys(model, custom_keys, used_keys)
    return entries


def check_custom_keys(model: nn.Module, custom_keys: Mapping[str, Any], used: set[str]) -> None:
    """A key that matches no parameter is an error (MMCV ignores it, hiding typos); one that
    matches only frozen parameters or parameters a longer key took is a warning."""
    if not custom_keys:
        return
    full_names = [full for _, _, full, _ in walk(model, ())]
    for key in sorted_custom_keys(custom_keys):
        if key in used:
            continue
        if not any(key in full for full in full_names):
            raise ConfigError(f"paramwise.custom_keys.{key}", "matches no parameter name", key,
                              nearest(key, name_parts(full_names), n=3))
        warn(f"paramwise.custom_keys.{key}: never applies (every parameter it matches is frozen, "
             "a skipped duplicate, or taken by a longer key)")


def name_parts(full_names: list[str]) -> list[str]:
    """Every dotted run of every parameter name (`backbone`, `backbone.blocks.0`,
    `blocks.0.norm1.weight`, ...): what a custom key is meant to be a substring of."""
    parts: dict[str, None] = {}
    for full in full_names:
        pieces = full.lstrip(".").split(".")
        for i in range(len(pieces)):
            for j in range(i + 1, len(pieces) + 1):
                parts[".".join(pieces[i:j])] = None
    return list(parts)


def group_name(members: list[Entry]) -> str:
    """`scope.labels` of a merged group (module docstring): distinct values joined by `+`."""
    scopes = list(dict.fromkeys(e.scope for e in members if e.scope))
    labels = list(dict.fromkeys(label for e in members for label in e.labels))
    labels.sort(key=lambda label: LABEL_ORDER.index(label) + 1 if label in LABEL_ORDER else 0)
    if scopes and labels == ["default"]:
        return "+".join(scopes)
    return ".".join(filter(None, ["+".join(scopes), "+".join(labels)]))


def merge_groups(entries: list[Entry], *, lr: float, weight_decay: Optional[float]) -> list[dict[str, Any]]:
    """One torch param group per distinct (lr, weight_decay), in order of first appearance,
    parameters in their order, named after their labels (see the module docstring). Each
    group keeps its multipliers of the base `lr` and `weight_decay` (`lr_mult`,
    `decay_mult`: what the scheduler and the lr range test scale; optkit.schedule.keys), and
    its values are exactly base × multiplier."""
    members: dict[tuple[float, Optional[float]], list[Entry]] = {}
    for entry in entries:
        members.setdefault((entry.lr, entry.weight_decay), []).append(entry)
    groups = []
    taken: set[str] = set()
    for (group_lr, wd), group_entries in members.items():
        name = group_name(group_entries)
        if name in taken:  # same labels, other values: not produced by the rules optkit ships
            name = f"{name}@{len(groups)}"
        taken.add(name)
        lr_mult = multiplier(group_lr, lr)
        group: dict[str, Any] = {"params": [e.param for e in group_entries], "lr": scaled(lr, lr_mult),
                                 "lr_mult": lr_mult, "name": name}
        if wd is not None:
            decay_mult = multiplier(wd, weight_decay)
            group["weight_decay"], group["decay_mult"] = scaled(weight_decay, decay_mult), decay_mult
        groups.append(group)
    return groups


def build_param_groups(
    model: nn.Module,
    *,
    lr: Optional[float],
    weight_decay: Optional[float],
    paramwise: Any = None,
) -> list[dict[str, Any]]:
    """torch param-group dicts (`params`, `lr`, `weight_decay`, `name`, and the multipliers
    `lr_mult`, `decay_mult` of `lr` and `weight_decay`) for `model`.

    No paramwise rule: one group `default` of `model.parameters()` (MMCV's path, tied
    weights deduplicated by torch). `lr=None` (a custom optimizer without an lr) is allowed
    only then. `weight_decay=None`: groups carry no `weight_decay` key.
    """
    mapping = as_mapping(paramwise)
    model = getattr(model, "module", model)
    if is_plain(mapping):
        group: dict[str, Any] = {"params": list(model.parameters()), "name": "default"}
        if lr is not None:
            group["lr"], group["lr_mult"] = lr, 1.0
        if weight_decay is not None:
            group["weight_decay"], group["decay_mult"] = weight_decay, 1.0
        return [group]
    if lr is None:
        raise ConfigError("paramwise", "per-parameter rules need a base lr (optimizer.lr)", None)
    return merge_groups(param_entries(model, lr=lr, weight_decay=weight_decay, paramwise=mapping), lr=lr,
                        weight_decay=weight_decay)


def describe_param_groups(groups: list[dict[str, Any]], model: nn.Module, examples: int = 3) -> str:
    """The dry-run table: one line per group (never one per parameter) and a total."""
    names = {}
    for name, param in getattr(model, "module", model).named_parameters(remove_duplicate=False):
        names.setdefault(id(param), name)
    rows = []
    for group in groups:
        params = group["params"]
        shown = ", ".join(names.get(id(p), "?") for p in params[:examples]) + (", ..." if len(params) > examples else "")
        wd = group.get("weight_decay")
        rows.append((group.get("name", "?"), str(len(params)), f"{sum(p.numel() for p in params):,}",
                     f"{group['lr']:.4g}", "default" if wd is None else f"{wd:.4g}", shown))
    total = sum(len(g["params"]) for g in groups)
    elements = sum(p.numel() for g in groups for p in g["params"])
    rows.append(("total", str(total), f"{elements:,}", "", "", f"{len(groups)} groups"))
    header = ("group", "tensors", "elements", "lr", "weight_decay", "examples")
    width = [max(len(row[i]) for row in (header, *rows)) for i in range(5)]
    fmt = f"{{:<{width[0]}}}  {{:>{width[1]}}}  {{:>{width[2]}}}  {{:>{width[3]}}}  {{:>{width[4]}}}  {{}}"
    lines = [fmt.format(*header), "-" * (sum(width) + 10 + len("examples"))]
    lines += [fmt.format(*row) for row in rows[:-1]]
    lines += [lines[1], fmt.format(*rows[-1])]
    return "\n".join(lines)
