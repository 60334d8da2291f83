"""An MMEngine-format config (MMPretrain 1.x, MMDetection 3.x, ...) in optkit terms.

One function per MMEngine key, as `translate.py` has for MMCV 1.x:

| MMEngine | optkit |
|---|---|
| `optim_wrapper.type` OptimWrapper / AmpOptimWrapper | nothing / `trainer.amp=fp16` (`dtype='bfloat16'`: `bf16`) |
| `optim_wrapper.optimizer` | `optimizer=<option>` + `optimizer.*` (torch lacks it: `optimizer=custom`) |
| `optim_wrapper.paramwise_cfg` | `paramwise.*`, `flat_decay_mult` included; `paramwise.rule_order=mmengine` where the order matters |
| `optim_wrapper.clip_grad` | `grad.clip.max_norm/norm_type` (type norm), `grad.clip_value` (type value) |
| `optim_wrapper.accumulative_counts` | `grad.accumulate` + `grad.remainder=mmcv` |
| `param_scheduler` | `schedule=chain` + `schedule.param_scheduler` (lr, momentum, weight decay, any key) |
| `train_cfg` | `trainer.max_epochs` / `trainer.max_iters`, `trainer.eval_every` |
| `default_hooks.checkpoint.interval` | `trainer.ckpt_every` (`ckpt_by_epoch`) |
| `default_hooks.logger.interval` | `logging.log_every` |
| `train_dataloader.batch_size` | `data.batch_size` |

`auto_scale_lr` becomes optkit's (`from_mmcv.hooks`; MMEngine's total batch leaves out
accumulation, optkit's counts it); MMEngine's `EMAHook` (another EMA than MMCV 1.x's) is
reported. New-style files give `type=` as an imported class: its name is used. Every key
or value that does not translate is one line of `skipped`; `dropped` lists those that are
optimization settings (the exit status of the command line).
"""
from __future__ import annotations

from typing import Any, Callable

from optkit.errors import ConfigError
from optkit.from_mmcv import hooks, model_keys
from optkit.from_mmcv.match import match_options
from optkit.from_mmcv.read import Unevaluable
from optkit.from_mmcv.translate import DATA_SETS, STREAMED_ONLY
from optkit.from_mmcv.translate import (PARAMWISE_FIELDS, accumulate, custom_imports, loss_scale, optimizer_arguments,
                                        paramwise)
from optkit.from_mmcv.translation import ABSENT, Translation, checked_dict, evaluated, fmt, take
from optkit.schedule.chain import kind_of

OPTIM_WRAPPERS = ("OptimWrapper", "AmpOptimWrapper")
AMP_DTYPES = {None: "fp16", "float16": "fp16", "bfloat16": "bf16"}
MMENGINE_KEYS = ("optim_wrapper", "param_scheduler", "train_cfg")
DEFAULT_CONSTRUCTOR = "DefaultOptimWrapperConstructor"
QUIET_HOOKS = {"timer": "IterTimerHook", "param_scheduler": "ParamSchedulerHook",
               "sampler_seed": "DistSamplerSeedHook"}  # what optkit's loop does anyway
MMENGINE_PARAMWISE = tuple(name for name in PARAMWISE_FIELDS if name != "rule_order")
# Where MMEngine's weight-decay rule order differs from MMCV's (optim/paramwise.py, decay_rule).
ORDER_SENSITIVE = ("bias_decay_mult", "dwconv_decay_mult", "flat_decay_mult")
DEFAULT_LOOPS = ("val_cfg", "test_cfg")  # `dict()`: MMEngine's default ValLoop / TestLoop
CUSTOM_OPTIMIZER = ("bring the class with optimizer=custom optimizer._target_=<module>.{kind} (docs/tutorial.md, "
                    "custom optimizer)")


def is_mmengine(cfg: dict[str, Any]) -> bool:
    """MMEngine's runner reads these keys; MMCV 1.x never had them."""
    return any(key in cfg for key in MMENGINE_KEYS)


def imported_name(value: Any) -> Any:
    """`type=SGD` with `SGD` imported (a new-style config): the class name."""
    if isinstance(value, Unevaluable) and value.reason.startswith("imported from "):
        return value.source
    return value


def named_types(value: Any) -> Any:
    """Every `type=<imported class>` inside `value` as the class name."""
    if isinstance(value, dict):
        return {k: imported_name(v) if k == "type" else named_types(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(named_types(v) for v in value)
    return value


def translate_mmengine(cfg: dict[str, Any], source: str) -> Translation:
    """The optkit translation of MMEngine config `cfg` (read from `source`)."""
    t = Translation(source)
    cfg = {k: named_types(v) for k, v in cfg.items() if imported_name(v) is v}  # lazy imports are not keys
    for key, handler in HANDLERS.items():
        handler(cfg.get(key, ABSENT), t, cfg)
    for key in cfg:
        if key not in HANDLERS and not (key in DEFAULT_LOOPS and cfg[key] == {}):
            t.skip(key, OTHER_KEYS.get(key, "not a setting MMEngine's runner reads (a variable of the file?)"))
    match_options(t)
    t.dropped = [line for line in t.skipped if line.split(":")[0].startswith(SETTINGS)]
    return t


def optim_wrapper(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("optim_wrapper", value, t)
    if d is None:
        if value is ABSENT:
            t.skip("optim_wrapper", "missing: MMEngine's runner needs one to train")
        return
    kind = take("optim_wrapper", d, "type", t)
    kind = "OptimWrapper" if kind is ABSENT else kind
    if kind not in OPTIM_WRAPPERS:
        t.skip("optim_wrapper.type", f"{kind!r}: optkit translates {' and '.join(OPTIM_WRAPPERS)} only")
    if kind == "AmpOptimWrapper":
        dtype = d.pop("dtype", None)
        if dtype in AMP_DTYPES:
            t.set(("trainer", "amp"), AMP_DTYPES[dtype])
        else:
            t.skip("optim_wrapper.dtype", f"{fmt(dtype)}: optkit's amp is fp16 or bf16")
        loss_scale(d.pop("loss_scale", "dynamic"), "optim_wrapper.loss_scale", t, "MMEngine")
    optimizer = take("optim_wrapper", d, "optimizer", t)
    constructor = take("optim_wrapper", d, "constructor", t)
    paramwise_cfg = take("optim_wrapper", d, "paramwise_cfg", t)
    optimizer_cfg = checked_dict("optim_wrapper.optimizer", optimizer, t)
    if optimizer_cfg is not None:
        optimizer_kind = take("optim_wrapper.optimizer", optimizer_cfg, "type", t)
        if optimizer_kind is ABSENT:
            t.skip("optim_wrapper.optimizer.type", "missing (MMEngine needs the optimizer's type)")
        else:
            optimizer_arguments("optim_wrapper.optimizer", optimizer_kind, optimizer_cfg, t, cfg, "MMEngine")
            if t.options.get("optimizer") == "custom" and ("optimizer", "_target_") not in t.values:
                t.note("optim_wrapper.optimizer.type", CUSTOM_OPTIMIZER.format(kind=optimizer_kind))
    elif optimizer is ABSENT:
        t.skip("optim_wrapper.optimizer", "missing: MMEngine's OptimWrapper needs an optimizer")
    if paramwise_cfg is not ABSENT:
        paramwise(paramwise_cfg, t, "optim_wrapper.paramwise_cfg", MMENGINE_PARAMWISE,
                  "MMEngine copies it into the param group; optkit's custom_keys hold lr_mult and decay_mult only")
        if any(("paramwise", name) in t.values for name in ORDER_SENSITIVE):
            t.set(("paramwise", "rule_order"), "mmengine")
    if constructor is not ABSENT and constructor != DEFAULT_CONSTRUCTOR:
        t.skip("optim_wrapper.constructor", f"{constructor!r}: port it to a function (model, optimizer_cfg, "
               "paramwise_cfg) -> optimizer and set optimizer_constructor._target_ (docs/tutorial.md)")
    for name, item in evaluated("optim_wrapper", d, t):
        if name == "clip_grad":
            clip_grad(item, t)
        elif name == "accumulative_counts":
            accumulate("optim_wrapper.accumulative_counts", item, t, "MMEngine's windows and iteration clock (the "
                       "schedule and max_iters count micro-batches)")
        else:
            t.skip(f"optim_wrapper.{name}", f"not an argument of {kind} optkit has")


def clip_grad(value: Any, t: Translation) -> None:
    d = checked_dict("optim_wrapper.clip_grad", value, t)
    if d is None:
        return  # None: MMEngine does not clip, nor does optkit's default
    kind = d.pop("type", "norm")
    fields = {"norm": {"max_norm": ("grad", "clip", "max_norm"), "norm_type": ("grad", "clip", "norm_type")},
              "value": {"clip_value": ("grad", "clip_value")}}.get(kind)
    if fields is None:
        t.skip("optim_wrapper.clip_grad.type", f"{kind!r}: MMEngine clips by 'norm' or 'value'")
        return
    for name, item in evaluated("optim_wrapper.clip_grad", d, t):
        if name in fields:
            t.set(fields[name], item)
        else:
            t.skip(f"optim_wrapper.clip_grad.{name}", f"optkit passes only {', '.join(fields)} to clip_grad_{kind}_")


def param_scheduler(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    if value is ABSENT or value is None or value == []:
        t.options["schedule"] = "fixed"
        t.note("param_scheduler", "none: the lr stays the optimizer's (schedule=fixed)")
        return
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, (list, tuple)):
        t.skip("param_scheduler", f"MMEngine expects a dict or a list of dicts (got {fmt(value)})")
        return
    chain = []
    for i, entry in enumerate(entries):
        key = f"param_scheduler.{i}"
        d = checked_dict(key, entry, t)
        if d is None:
            continue
        bad = [name for name, _ in evaluated(key, dict(d), t)]
        if len(bad) != len(d):
            continue
        try:
            kind_of(str(d.get("type")))
        except ConfigError as err:
            t.skip(f"{key}.type", f"{fmt(d.get('type'))}: {err.problem}")
            continue
        chain.append(d)
    if chain:
        t.options["schedule"] = "chain"
        t.set(("schedule", "param_scheduler"), chain)
        train = cfg.get("train_cfg")
        if isinstance(train, dict) and not loop_by_epoch(train) and any(e.get("by_epoch", True) for e in chain):
            t.note("param_scheduler", "a by_epoch scheduler in an iteration-based loop: MMEngine never steps it "
                   "after it is built; optkit steps it at each pass over the data")


def loop_by_epoch(train: dict[str, Any]) -> bool:
    if "by_epoch" in train:
        return bool(train["by_epoch"])
    return train.get("type") != "IterBasedTrainLoop"


def train_cfg(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("train_cfg", value, t)
    if d is None:
        return
    by_epoch = loop_by_epoch(d)
    kind = d.pop("type", None)
    d.pop("by_epoch", None)
    if kind not in (None, "EpochBasedTrainLoop", "IterBasedTrainLoop"):
        t.skip("train_cfg.type", f"{kind!r}: optkit translates EpochBasedTrainLoop and IterBasedTrainLoop only")
        return
    length = "max_epochs" if by_epoch else "max_iters"
    for name, item in evaluated("train_cfg", d, t):
        if name == length:
            t.set(("trainer", name), item)
        elif name == "val_interval" and by_epoch:
            t.set(("trainer", "eval_every"), item)
        elif name == "val_interval":
            t.skip("train_cfg.val_interval", "counts iterations here; optkit evaluates every trainer.eval_every "
                   "epochs")
        else:
            t.skip(f"train_cfg.{name}", f"the {'epoch' if by_epoch else 'iteration'}-based loop is bounded by "
                   f"{length}; no optkit equivalent")


def default_hooks(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("default_hooks", value, t)
    if d is None:
        return
    for name, hook in evaluated("default_hooks", d, t):
        key = f"default_hooks.{name}"
        hook = dict(hook) if isinstance(hook, dict) else {}
        kind = hook.pop("type", None)
        if name in QUIET_HOOKS and kind == QUIET_HOOKS[name] and not hook:
            continue
        if name == "checkpoint" and kind == "CheckpointHook":
            if "interval" in hook:
                t.set(("trainer", "ckpt_every"), hook.pop("interval"))
                if not hook.pop("by_epoch", True):
                    t.set(("trainer", "ckpt_by_epoch"), False)
            for extra in hook:
                t.skip(f"{key}.{extra}", "optkit keeps last.pt and the checkpoints every trainer.ckpt_every")
        elif name == "logger" and kind == "LoggerHook":
            if "interval" in hook:
                t.set(("logging", "log_every"), hook.pop("interval"))
            for extra in hook:
                t.skip(f"{key}.{extra}", "optkit logs to TensorBoard and metrics.jsonl")
        elif name == "visualization" and not hook.get("enable", False):
            continue
        else:
            t.skip(key, f"{fmt(kind)}: no optkit equivalent")


def custom_hooks(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    for i, hook in enumerate(hooks.hook_list(value, t, "MMEngine")):
        kind = hook.get("type") if isinstance(hook, dict) else hook
        why = ("EMA of the weights as MMEngine's EMAHook computes it (ema_type, ...) is not translated; set "
               "ema=ema (timm) or ema=mmcv (MMCV 1.x EMAHook)" if kind == "EMAHook" else "no optkit equivalent")
        t.skip(f"custom_hooks.{i}", f"{fmt(kind)}: {why}")


def auto_scale_lr(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    """MMEngine's `Runner.scale_lr` acts only with `enable=True` (what `--auto-scale-lr` sets)."""
    if value is ABSENT or value is None:
        return
    if isinstance(value, dict) and not value.get("enable", False):
        t.note("auto_scale_lr", "not enabled: MMEngine keeps the config's lr (optkit too)")
        return
    hooks.auto_scale_lr(value, t, cfg)


def train_dataloader(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("train_dataloader", value, t)
    if d is None:
        return
    batch_size = take("train_dataloader", d, "batch_size", t)
    if batch_size is not ABSENT:
        t.set(("data", "batch_size"), batch_size)
    for name in ("num_workers", "persistent_workers", "pin_memory"):
        if take("train_dataloader", d, name, t) is not ABSENT:
            t.skip(f"train_dataloader.{name}", f"data.{name}: {STREAMED_ONLY}")
    if d:
        t.skip("train_dataloader", f"{', '.join(sorted(d))}: {DATA_SETS}")


HANDLERS: dict[str, Callable[[Any, Translation, dict[str, Any]], None]] = {
    "optim_wrapper": optim_wrapper,
    "param_scheduler": param_scheduler,
    "train_cfg": train_cfg,
    "default_hooks": default_hooks,
    "custom_hooks": custom_hooks,
    "auto_scale_lr": auto_scale_lr,
    "train_dataloader": train_dataloader,
    "custom_imports": custom_imports,
    "model": model_keys.model,
    "load_from": model_keys.load_from,
}
# Optimization settings: a line about one of these means the run would differ (exit status 1).
SETTINGS = ("optim_wrapper", "param_scheduler", "train_cfg", "default_hooks", "custom_hooks", "auto_scale_lr",
            "custom_imports", "model.head.loss", "model.train_cfg")
OTHER_KEYS = {
    "data_preprocessor": DATA_SETS, "dataset_type": DATA_SETS, "train_pipeline": DATA_SETS,
    "test_pipeline": DATA_SETS, "val_dataloader": DATA_SETS, "test_dataloader": DATA_SETS,
    "val_evaluator": "optkit evaluates accuracy every trainer.eval_every epochs",
    "test_evaluator": "optkit evaluates accuracy every trainer.eval_every epochs",
    "val_cfg": "optkit's validation loop has no settings", "test_cfg": "optkit has no test loop",
    "resume": "optkit resumes with trainer.resume",
    "randomness": "optkit seeds with trainer.seed and trainer.deterministic",
    "env_cfg": "the distributed backend comes from torchrun / SLURM",
    **{key: "no optkit equivalent" for key in ("default_scope", "log_level", "visualizer", "vis_backends",
                                                "log_processor", "launcher", "work_dir", "bgr_mean", "bgr_std")},
}
