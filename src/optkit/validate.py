"""Checks of a composed config, in one place, before anything is built or written.

Hydra's schema already rejects unknown keys and wrong types; this adds ranges, choices
and cross-field rules, then builds the run's `Preview` (model on the meta device, param
groups, timeline, schedule) so that every check needing the model or the run length runs
too, and checks that the data files exist. Each problem is one `ConfigError` naming the
key. `optkit.compose` runs this for every job of a command line before Hydra creates a
directory, and `optkit.train.run` again before building anything. What depends on the
machine that trains (is CUDA there?) is checked when the run starts on it.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
import math
from pathlib import Path
from typing import Any, Optional

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from optkit.batch_augment import check_augments
from optkit.data import DESCRIPTIONS
from optkit.data.describe import check_files
from optkit.errors import ConfigError, warn
from optkit.instantiate import instantiate_at, locate_at
from optkit.multipass import needs_closure
from optkit.optim import auto_scale_lr
from optkit.loss import build_loss
from optkit.optim import paramwise as optim_paramwise
from optkit.optim.groups import as_mapping, resolve_dcn_types
from optkit.optim.sam import SAM
from optkit.plan import steps_per_epoch
from optkit.preview import Preview, preview
from optkit.schedule import Timeline

DEVICES = ("auto", "cpu", "cuda")
AMP = ("bf16", "fp16")
REMAINDERS = ("flush", "mmcv")
NONFINITE = ("stop", "skip")
MONITORS = ("val/acc", "val/acc5", "val/loss")
MONITOR_MODES = ("max", "min")
SEEDS = 2**32  # numpy's seed range


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive(key: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not is_number(value) or not value > 0:
        raise ConfigError(key, "must be > 0", value)


def check_choice(key: str, value: Any, choices: tuple, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value not in choices:
        raise ConfigError(key, "unknown value", value, [str(c) for c in choices])


def check_trainer(t: DictConfig) -> None:
    positive("trainer.max_epochs", t.max_epochs)
    positive("trainer.max_iters", t.max_iters, allow_none=True)
    device = str(t.device)
    if device.split(":")[0] not in DEVICES or (device.startswith("cuda:") and not device[5:].isdigit()):
        raise ConfigError("trainer.device", "unknown device", t.device, [*DEVICES, "cuda:0"])
    check_choice("trainer.amp", t.amp, AMP, allow_none=True)
    if device == "cpu":
        check_amp_device(t.amp, device)
    positive("trainer.eval_every", t.eval_every)
    positive("trainer.ckpt_every", t.ckpt_every)
    if not 0 <= t.seed < SEEDS:
        raise ConfigError("trainer.seed", "must be in [0, 2**32)", t.seed)
    check_resume(t.resume)
    check_choice("trainer.nonfinite", t.nonfinite, NONFINITE)
    positive("trainer.max_nonfinite", t.max_nonfinite)
    check_choice("trainer.monitor", t.monitor, MONITORS)
    check_choice("trainer.monitor_mode", t.monitor_mode, MONITOR_MODES)
    if t.load_from is not None and not Path(t.load_from).is_file():
        raise ConfigError("trainer.load_from", "no such file", t.load_from)


def check_resume(resume: Optional[str]) -> None:
    """`auto` and null always work (auto starts afresh in a directory without checkpoints);
    a path must exist: a checkpoint file, or a run directory."""
    if resume is None or resume == "auto":
        return
    if not Path(resume).exists():
        raise ConfigError("trainer.resume", "no such checkpoint file or run directory", resume,
                          ["auto", "null"])


def check_amp_device(amp: Any, device_type: str) -> None:
    """fp16 autocast (with its GradScaler) is CUDA only; bf16 runs anywhere. Checked here for
    `trainer.device=cpu` and again once `auto` has been resolved on the training machine."""
    if amp == "fp16" and device_type != "cuda":
        raise ConfigError("trainer.amp", "fp16 autocast needs a CUDA device; use bf16 on CPU", amp, ["bf16"])


def check_grad(g: DictConfig) -> None:
    positive("grad.accumulate", g.accumulate)
    check_choice("grad.remainder", g.remainder, REMAINDERS)
    positive("grad.clip_value", g.clip_value, allow_none=True)
    if g.clip is not None:
        positive("grad.clip.max_norm", g.clip.max_norm, allow_none=True)
        positive("grad.clip.norm_type", g.clip.norm_type)


def check_target_kwargs(key: str, node: DictConfig, supplied: int = 1) -> None:
    """Every key of a `_target_` node must be an argument of the target, and every argument
    without a default must be there. The first `supplied` positional arguments come at call
    time (an optimizer's `params`; a constructor's model, optimizer_cfg, paramwise_cfg)."""
    target = locate_at(f"{key}._target_", node._target_)
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        raise ConfigError(f"{key}._target_", "is not a class or function", node._target_) from None
    later = [name for name, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:supplied]
    valid = [name for name, p in params.items() if name not in later and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name in node:
        if str(name).startswith("_") or takes_any:
            continue
        if name not in valid:
            close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.6)
            hint = "; to change optimizer pick its option (optimizer=sgd) or start from optimizer=custom" if (
                key == "optimizer" and not close) else ""
            raise ConfigError(f"{key}.{name}", f"not an argument of {node._target_}({', '.join(valid)}){hint}",
                              name, close)
        check_like_default(f"{key}.{name}", node[name], params[name].default)
    for name in valid:
        if params[name].default is inspect.Parameter.empty and name not in node:
            raise ConfigError(f"{key}.{name}", f"is a required argument of {node._target_}; add +{key}.{name}=...")


def check_like_default(key: str, value: Any, default: Any) -> None:
    """A value must have the kind of its argument's default: bool, number or sequence."""
    if value is None or default in (None, inspect.Parameter.empty):
        return
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, (int, float)):
        ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(default, (tuple, list)):
        ok, kind = isinstance(value, (list, tuple, ListConfig)), f"a list like {list(default)}"
    else:
        return
    if not ok:
        raise ConfigError(key, f"must be {kind}", value)


def check_optimizer(o: DictConfig, key: str = "optimizer") -> None:
    """The optimizer node's arguments and ranges; a SAM's base node too (`optimizer.base`)."""
    if OmegaConf.is_missing(o, "_target_"):
        raise ConfigError(f"{key}._target_", "must name your optimizer class, e.g. "
                          f"{key}._target_=my_pkg.opt.MyOptimizer")
    target = locate_at(f"{key}._target_", o._target_)
    check_target_kwargs(key, o)
    if is_class(target, SAM):
        base = locate_at(f"{key}.base._target_", o.base._target_) if isinstance(o.base, DictConfig) else None
        if base is None or is_class(base, SAM) or (isinstance(base, type) and needs_closure(base)):
            raise ConfigError(f"{key}.base", "SAM needs a base optimizer that steps one gradient (not SAM, "
                              "not a closure optimizer such as LBFGS); pick one with optimizer@optimizer.base=sgd",
                              OmegaConf.select(o, "base._target_", default=o.get("base")))
        check_optimizer(o.base, f"{key}.base")
    if o.get("lr") is not None:
        positive(f"{key}.lr", o.lr)
    if "momentum" in o and not 0 <= o.momentum < 1:
        raise ConfigError(f"{key}.momentum", "must be in [0, 1)", o.momentum)
    if "betas" in o and (len(o.betas) != 2 or not all(is_number(b) and 0 <= b < 1 for b in o.betas)):
        raise ConfigError(f"{key}.betas", "must be two numbers, each in [0, 1)", list(o.betas))
    if o.get("weight_decay") is not None and (o.weight_decay < 0 or math.isnan(o.weight_decay)):
        raise ConfigError(f"{key}.weight_decay", "must be >= 0", o.weight_decay)
    if is_number(o.get("eps")) and not o.eps >= 0:
        raise ConfigError(f"{key}.eps", "must be >= 0", o.eps)
    if o.get("nesterov") and not (o.get("momentum", 0) > 0 and o.get("dampening", 0) == 0):
        raise ConfigError(f"{key}.nesterov", f"needs {key}.momentum > 0 and {key}.dampening=0",
                          f"momentum={o.get('momentum')}, dampening={o.get('dampening')}")


def is_class(target: Any, cls: type) -> bool:
    return isinstance(target, type) and issubclass(target, cls)


def check_closure_step(cfg: DictConfig) -> None:
    """A closure optimizer (LBFGS) re-evaluates one micro-batch: no accumulation window, and
    no fp16 (GradScaler cannot step a closure; bf16 needs no scaler)."""
    target = locate_at("optimizer._target_", cfg.optimizer._target_)
    if not (isinstance(target, type) and needs_closure(target)):
        return
    name = target.__name__
    if cfg.grad.accumulate > 1:
        raise ConfigError("grad.accumulate", f"{name} re-evaluates the loss of one micro-batch through a closure "
                          "several times per step, so it cannot accumulate micro-batches; raise data.batch_size "
                          "instead", cfg.grad.accumulate, ["1"])
    if cfg.trainer.amp == "fp16":
        raise ConfigError("trainer.amp", f"{name} steps through a closure, which fp16's GradScaler cannot "
                          "scale; use bf16", cfg.trainer.amp, ["bf16"])


def check_paramwise(cfg: DictConfig) -> None:
    """MMCV's paramwise_cfg checks (decay rules need optimizer.weight_decay), multiplier
    ranges, and the `dcn_types` classes (importable once custom_imports ran)."""
    paramwise = as_mapping(cfg.paramwise)
    base = cfg.optimizer.get("base")
    hyper = base if isinstance(base, DictConfig) else cfg.optimizer  # a SAM's weight decay is its base's
    optim_paramwise.check_paramwise(paramwise, hyper.get("weight_decay"))
    resolve_dcn_types(paramwise)


def import_custom_modules(cfg: DictConfig) -> None:
    """MMCV `custom_imports`: import exactly these modules (nothing is eval'ed); with
    `allow_failed_imports` a failing import is a warning instead of an error."""
    for name in cfg.custom_imports:
        try:
            importlib.import_module(name)
        except ImportError as err:
            if not cfg.allow_failed_imports:
                raise ConfigError("custom_imports", f"cannot import ({err})", name) from None
            warn(f"custom_imports: {name} failed to import ({err})")


def check_swa_start(start_epoch: int, timeline: Timeline) -> None:
    """SWA must average at least one epoch end: the run's last (possibly partial) epoch is
    number ceil(max_iters / iters_per_epoch) − 1."""
    epochs = -(-timeline.max_iters // timeline.iters_per_epoch)
    if start_epoch >= epochs:
        raise ConfigError("swa.start_epoch", f"the run has {epochs} epochs (0 to {epochs - 1}), so nothing would "
                          "be averaged", start_epoch)


def check_data(d: DictConfig) -> None:
    positive("data.batch_size", d.batch_size)
    positive("data.val_batch_size", d.val_batch_size)
    if "num_workers" in d and not (isinstance(d.num_workers, int) and d.num_workers >= 0):
        raise ConfigError("data.num_workers", "must be >= 0", d.num_workers)
    positive("data.prefetch_factor", d.get("prefetch_factor"), allow_none=True)
    for split in ("train", "val"):
        node = d.get(split)
        if isinstance(node, DictConfig) and "_target_" in node.keys():  # `in node` is False while ???
            if OmegaConf.is_missing(node, "_target_"):
                raise ConfigError(f"data.{split}._target_", "must name your Dataset class or factory, e.g. "
                                  f"data.{split}._target_=my_pkg.data.MyDataset")
            locate_at(f"data.{split}._target_", node._target_)


def warn_suspicious(cfg: DictConfig, plan: Preview) -> None:
    """Legal settings that are probably not what the user meant (one line each)."""
    t, timeline = cfg.trainer, plan.timeline
    if t.ckpt_by_epoch:
        length, unit = -(-timeline.max_iters // timeline.iters_per_epoch), "epochs"
    else:
        mmcv = cfg.grad.remainder == "mmcv"
        length = steps_per_epoch(timeline.max_iters, cfg.grad.accumulate) if mmcv else timeline.max_iters
        unit = "optimizer steps"
    if t.ckpt_every > length:
        warn(f"trainer.ckpt_every: {t.ckpt_every} {unit} is more than the run's {length}: only the final "
             "checkpoint is written, so a killed run starts again from the beginning")


def check(cfg: DictConfig, *, iters_per_epoch: Optional[int] = None, data_files: bool = True) -> Optional[Preview]:
    """Raise the first `ConfigError` in `cfg`; return the run's `Preview` when it can run
    (None for a data set without a static description, whose model is checked when built).
    `iters_per_epoch` replaces the data set's; `data_files=False` skips the data files
    (plot_lr reads none)."""
    import_custom_modules(cfg)
    check_trainer(cfg.trainer)
    check_grad(cfg.grad)
    check_data(cfg.data)
    positive("logging.log_every", cfg.logging.log_every)
    check_optimizer(cfg.optimizer)
    check_closure_step(cfg)
    auto_scale_lr.check(cfg)
    check_paramwise(cfg)
    check_target_kwargs("optimizer_constructor", cfg.optimizer_constructor, supplied=3)
    for key in ("schedule", "warmup", "momentum", "wd_schedule", "ema", "swa"):
        if cfg.get(key) is not None:
            instantiate_at(key, cfg[key])
    build_loss(cfg.loss)
    if cfg.ema is not None and cfg.swa is not None:
        raise ConfigError("swa", "model EMA and SWA are two averages of the same weights; pick one (ema=none or "
                          "swa=none)", "swa")
    plan = preview(cfg, iters_per_epoch) if cfg.data.get("_target_") in DESCRIPTIONS else None
    if plan is not None and cfg.swa is not None:
        check_swa_start(cfg.swa.start_epoch, plan.timeline)
    check_augments(cfg.augments, None if plan is None else plan.in_shape)
    if data_files:
        check_files(cfg.data)
    if plan is not None:
        warn_suspicious(cfg, plan)
    return plan
