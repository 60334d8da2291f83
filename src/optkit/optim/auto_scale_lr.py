"""`auto_scale_lr`: the lr written for one batch size, scaled to the batch the run trains with.

MMCV 1.x-era MMDetection (`auto_scale_lr(cfg, distributed, logger)`) and MMEngine
(`Runner.scale_lr`) multiply `optimizer.lr` by `real batch / base_batch_size` when
`auto_scale_lr.enable` is set, the linear scaling rule of Goyal et al. 2017, with the real
batch = world size × per-process batch. optkit counts what makes up one optimizer step:
world size × `data.batch_size` × `grad.accumulate`. `rule=sqrt` scales by the square root of
that ratio (Krizhevsky 2014; Hoffer et al. 2017), the usual rule for Adam-type optimizers.
Only `optimizer.lr` is scaled, as in MMEngine: every param group follows through its lr
multiplier, absolute schedule values (`min_lr`) stay.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from optkit.errors import ConfigError

RULES = ("linear", "sqrt")


def lr_scale(total_batch: int, base_batch_size: int, rule: str) -> float:
    ratio = total_batch / base_batch_size
    return math.sqrt(ratio) if rule == "sqrt" else ratio


def total_batch(cfg: Any, world_size: int) -> int:
    """The samples of one optimizer step over all processes."""
    return world_size * cfg.data.batch_size * cfg.grad.accumulate


def check(cfg: Any) -> None:
    a = cfg.auto_scale_lr
    if a.rule not in RULES:
        raise ConfigError("auto_scale_lr.rule", "unknown value", a.rule, RULES)
    if not a.enable:
        return
    if isinstance(a.base_batch_size, bool) or not isinstance(a.base_batch_size, int) or a.base_batch_size <= 0:
        raise ConfigError("auto_scale_lr.base_batch_size", "must be an int > 0 when auto_scale_lr.enable is set "
                          "(the batch size the lr was written for)", a.base_batch_size)
    if cfg.optimizer.get("lr") is None:
        raise ConfigError("auto_scale_lr.enable", "the optimizer has no optimizer.lr to scale", cfg.optimizer._target_)


def optimizer_config(cfg: Any, world_size: int) -> DictConfig:
    """`cfg.optimizer`, with its lr scaled when `auto_scale_lr.enable` is set."""
    a = cfg.auto_scale_lr
    if not a.enable:
        return cfg.optimizer
    node = OmegaConf.create(OmegaConf.to_container(cfg.optimizer))
    node.lr = cfg.optimizer.lr * lr_scale(total_batch(cfg, world_size), a.base_batch_size, a.rule)
    return node


def describe(cfg: Any, world_size: int) -> Optional[str]:
    """The dry run's line, or None when scaling is off."""
    a = cfg.auto_scale_lr
    if not a.enable:
        return None
    batch = total_batch(cfg, world_size)
    factor = lr_scale(batch, a.base_batch_size, a.rule)
    ratio = f"{batch}/{a.base_batch_size}" if a.rule == "linear" else f"sqrt({batch}/{a.base_batch_size})"
    return (f"auto_scale_lr ({a.rule}): optimizer.lr {cfg.optimizer.lr:g} × {ratio} = {cfg.optimizer.lr * factor:g} "
            f"(batch {batch} = {world_size} process(es) × data.batch_size {cfg.data.batch_size} × "
            f"grad.accumulate {cfg.grad.accumulate})")
