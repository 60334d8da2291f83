"""Optimizers from config: the default constructor, the fused-kernel choice, and the checks
that an optimizer can train these parameters at all."""
from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from optkit.errors import ConfigError
from optkit.instantiate import instantiate_at
from optkit.optim.groups import build_param_groups
from optkit.schedule.keys import derive_multipliers


def fused_supported(optimizer_class: type, params: list[torch.Tensor]) -> bool:
    """Whether torch has a fused kernel of this optimizer for these parameters' device and dtype."""
    if "fused" not in inspect.signature(optimizer_class).parameters:
        return False
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    devices = set(_get_fused_kernels_supported_devices())
    return all(p.device.type in devices and p.is_floating_point() for p in params)


def fused_choice(optimizer_class: type, kwargs: dict[str, Any], params: list[torch.Tensor]) -> Any:
    """The `fused` argument to pass. `fused: null` means "fused where torch supports it" (CPU
    included: the fused AdamW step is ~3.8× faster than torch's CPU default, DESIGN.md),
    unless foreach or differentiable is asked for; an explicit true/false is kept."""
    fused = kwargs.get("fused")
    if fused is None and not kwargs.get("foreach") and not kwargs.get("differentiable"):
        return True if fused_supported(optimizer_class, params) else None
    return fused


def kernel(optimizer: torch.optim.Optimizer) -> str:
    """Which implementation `optimizer.step()` runs: `fused`, `foreach` or `for-loop`,
    deciding `foreach: null` the way torch does (foreach only when every parameter is a
    CUDA tensor). An optimizer made of parts (MuonAdamW) lists each part."""
    parts = getattr(optimizer, "parts", None)
    if parts:
        return ", ".join(f"{type(part).__name__} {kernel(part)}" for part in parts)
    defaults = optimizer.defaults
    if defaults.get("fused"):
        return "fused"
    if "foreach" not in defaults:
        return "for-loop"
    foreach = defaults["foreach"]
    if foreach is None:
        from torch.optim.optimizer import _default_to_fused_or_foreach

        params = [p for group in optimizer.param_groups for p in group["params"]]
        foreach = _default_to_fused_or_foreach(params, bool(defaults.get("differentiable")), use_fused=False)[1]
    return "foreach" if foreach else "for-loop"


def owners(model: nn.Module) -> dict[int, tuple[str, nn.Module]]:
    """id(parameter) → (name, module that holds it directly)."""
    found: dict[int, tuple[str, nn.Module]] = {}
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            found.setdefault(id(param), (f"{module_name}.{name}".lstrip("."), module))
    return found


def check_fits(optimizer_class: type, model: nn.Module, params: list[torch.Tensor]) -> None:
    """Optimizers that only take some parameters: one line naming the first that does not fit.
    (LBFGS, which needs a closure whatever the model, is refused by validate.py.)"""
    held = owners(getattr(model, "module", model))
    if issubclass(optimizer_class, torch.optim.Muon):
        for p in params:
            if p.ndim != 2:
                name = held.get(id(p), ("?", None))[0]
                raise ConfigError("optimizer._target_", f"torch.optim.Muon updates 2-D weight matrices only and {name} "
                                  f"has shape {tuple(p.shape)}; use optimizer=muon_adamw (Muon for 2-D weights, AdamW "
                                  "for the rest)", "torch.optim.Muon")
    if issubclass(optimizer_class, torch.optim.SparseAdam):
        for p in params:
            name, module = held.get(id(p), ("?", None))
            if p.requires_grad and not (isinstance(module, (nn.Embedding, nn.EmbeddingBag)) and module.sparse):
                raise ConfigError("optimizer._target_", f"torch.optim.SparseAdam steps sparse gradients only (from "
                                  f"nn.Embedding(sparse=True)) and {name} gets dense ones; use optimizer=adam",
                                  "torch.optim.SparseAdam")


def make_optimizer(make: functools.partial, model: nn.Module, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """Call the instantiated `optimizer` partial on `groups`, with optkit's fused choice."""
    params = [p for group in groups for p in group["params"]]
    check_fits(make.func, model, params)
    kwargs = dict(make.keywords)
    extra = {"fused": fused_choice(make.func, kwargs, params)} if "fused" in kwargs else {}
    try:
        optimizer = make(groups, **extra)
    except (ValueError, TypeError, RuntimeError) as err:
        raise ConfigError("optimizer", f"{make.func.__name__} refused its arguments: {err}") from None
    if any("lr" not in group for group in optimizer.param_groups):
        raise ConfigError("optimizer._target_", "its param groups have no 'lr', which optkit's schedules set; give "
                          "the optimizer an lr argument", f"{make.func.__module__}.{make.func.__qualname__}")
    return optimizer


def default_constructor(model: nn.Module, optimizer_cfg: Any, paramwise_cfg: Any) -> torch.optim.Optimizer:
    """MMCV DefaultOptimizerConstructor: paramwise groups (merged), then the optimizer class,
    instantiated from `optimizer._target_` (`_partial_`: the parameters come here)."""
    make = instantiate_at("optimizer", optimizer_cfg, _convert_="all")
    kwargs = make.keywords
    groups = build_param_groups(model, lr=kwargs.get("lr"), weight_decay=kwargs.get("weight_decay"),
                                paramwise=paramwise_cfg)
    return make_optimizer(make, model, groups)


def build_optimizer(model: nn.Module, cfg: DictConfig) -> torch.optim.Optimizer:
    """The optimizer of the composed config, through `optimizer_constructor` (MMCV's
    `constructor`): any callable `(model, optimizer_cfg, paramwise_cfg) -> Optimizer`. Groups
    without `lr_mult` / `decay_mult` (a third-party constructor's) get them derived here, once."""
    constructor = instantiate_at("optimizer_constructor", cfg.optimizer_constructor)
    optimizer = constructor(model, cfg.optimizer, cfg.paramwise)
    derive_multipliers(optimizer)
    return optimizer
