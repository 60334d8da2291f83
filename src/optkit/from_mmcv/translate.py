"""An MMCV 1.x config (the dict `read.py` gives) in optkit terms: options and fields.

One function per MMCV key, each writing into a `Translation`:

| MMCV | optkit |
|---|---|
| `optimizer.type` + kwargs | `optimizer=<option>` + `optimizer.<kwarg>` (a class torch.optim does not have: `optimizer=custom`) |
| `optimizer.paramwise_cfg` | `paramwise.*` (a shipped `paramwise=` option when it matches) |
| `optimizer.constructor` | the default only; a custom MMCV constructor class is reported |
| `optimizer_config` | `grad.clip.*` (`grad=clip` when it matches), `grad.accumulate` + `grad.remainder=mmcv`, `trainer.amp=fp16` |
| `fp16` | `trainer.amp=fp16` |
| `lr_config` | `schedule=<option>` + `schedule.*`, `warmup=<kind>` + `warmup.iters/ratio/by_epoch` |
| `momentum_config` | `momentum=<option>` + `momentum.*` |
| `runner`, `total_epochs` | `trainer.max_epochs` / `trainer.max_iters` |
| `data.samples_per_gpu` | `data.batch_size` |
| `custom_imports` | `custom_imports`, `allow_failed_imports` |
| `custom_hooks` `EMAHook`, `auto_scale_lr` | `ema=mmcv` + `ema.*`, `auto_scale_lr.*` (hooks.py) |

The record they write is `translation.Translation`; what the shipped options hold comes
from `catalogue`, and `match.match_options` then selects shipped options.

Where MMCV's default for an argument differs from the default of the optkit option, the
MMCV value is written out (`restart_weights: [1]` for CosineRestart, `warmup.iters`), so
the result means what the MMCV config meant. Every other key, and every value that does
not translate, becomes one line of `skipped`; caveats of a translation are `notes`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

from optkit.config import ParamwiseConfig
from optkit.from_mmcv import hooks, model_keys
from optkit.from_mmcv import mmcv_names as mm
from optkit.from_mmcv.catalogue import option_file, options, policy_default, same, torch_optimizer_options
from optkit.from_mmcv.match import match_options
from optkit.from_mmcv.read import DELETE_KEY
from optkit.from_mmcv.translation import ABSENT, Translation, checked_dict, evaluated, fmt, plain, take
from optkit.schedule import LR_POLICIES, MOMENTUM_POLICIES, Warmup

__all__ = ["Translation", "plain", "torch_optimizer_options", "translate"]


def translate(cfg: dict[str, Any], source: str) -> Translation:
    """The optkit translation of MMCV config `cfg` (read from `source`)."""
    t = Translation(source)
    for key, handler in HANDLERS.items():
        handler(cfg.get(key, ABSENT), t, cfg)
    for key in cfg:
        if key not in HANDLERS:
            t.skip(key, OTHER_KEYS.get(key, "not a setting MMCV's runner reads (a variable of the file?)"))
    match_options(t)
    return t


NO_BASE_TO_DELETE = "no base value to delete here; MMCV passes it on to the hook, which fails"


def optimizer(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    if value is None:
        t.skip("optimizer", "None: MMCV needs an optimizer")
    d = checked_dict("optimizer", value, t)
    if d is None:
        return
    kind = take("optimizer", d, "type", t)
    paramwise_cfg = take("optimizer", d, "paramwise_cfg", t)
    constructor = take("optimizer", d, "constructor", t)
    if kind is ABSENT:
        t.skip("optimizer", "no type: one optimizer per model part (a dict of optimizers) is not supported")
        return
    optimizer_arguments("optimizer", kind, d, t, cfg)
    if paramwise_cfg is not ABSENT:
        paramwise(paramwise_cfg, t)
    if constructor is not ABSENT and constructor != mm.DEFAULT_CONSTRUCTOR:
        t.skip("optimizer.constructor", f"{constructor!r} is an MMCV class (optimizer_cfg, paramwise_cfg) -> "
               "__call__(model); port it to a function (model, optimizer_cfg, paramwise_cfg) -> optimizer and set "
               "optimizer_constructor._target_ (docs/tutorial.md, custom optimizer constructor)")


def optimizer_arguments(key: str, kind: Any, d: dict[str, Any], t: Translation, cfg: dict[str, Any],
                        library: str = "MMCV") -> None:
    """`optimizer=<option>` for `kind` and its keyword arguments as `optimizer.*` fields (a class
    torch.optim lacks: `optimizer=custom`, from the one `custom_imports` module)."""
    option = torch_optimizer_options().get(str(kind))
    if option is not None:
        t.options["optimizer"] = option
        arguments = option_file("optimizer", option)
        for name, argument in evaluated(key, d, t):
            if name in arguments:
                t.set(("optimizer", name), argument)
            else:
                t.skip(f"{key}.{name}", f"not an argument of torch.optim.{kind} ({library}: TypeError)")
    else:
        t.options["optimizer"] = "custom"
        modules = custom_import_list(cfg.get("custom_imports"))
        if len(modules) == 1:
            target = f"{modules[0]}.{kind}"
            t.set(("optimizer", "_target_"), target)
            t.note(f"{key}.type", f"{kind!r} is not in torch.optim: taken as {target} (the one custom_imports "
                   "module); optkit needs the class's import path, not a registry name")
        else:
            t.skip(f"{key}.type", f"{kind!r} is not in torch.optim and custom_imports does not say which module "
                   f"defines it: set optimizer._target_=<module>.{kind}")
        for name, argument in evaluated(key, d, t):
            t.set(("optimizer", name), argument, added=True)


PARAMWISE_FIELDS = tuple(f.name for f in dataclasses.fields(ParamwiseConfig) if f.name != "dcn_types")
MMENGINE_ONLY = ("flat_decay_mult", "rule_order")  # MMEngine's option, and the switch to its rule order
MMCV_PARAMWISE = tuple(name for name in PARAMWISE_FIELDS if name not in MMENGINE_ONLY)
CUSTOM_KEY_FIELDS = ("lr_mult", "decay_mult")


def paramwise(value: Any, t: Translation, node: str = "optimizer.paramwise_cfg", fields: tuple[str, ...] = MMCV_PARAMWISE,
              extra_why: str = "MMCV reads only lr_mult and decay_mult here") -> None:
    """`paramwise_cfg` → `paramwise.*`; `fields` are the options the constructor has and
    `extra_why` says what becomes of other fields of a custom key."""
    d = checked_dict(node, value, t)
    if not d:  # None or {}: MMCV's single group of model.parameters()
        return
    for name, item in evaluated(node, d, t):
        key = f"{node}.{name}"
        if name not in fields:
            t.skip(key, "not a DefaultOptimizerConstructor option (MMCV ignores it)")
        elif name == "custom_keys":
            if not isinstance(item, dict):
                t.skip(key, f"MMCV needs a dict (got {fmt(item)})")
                continue
            keys = {}
            for pattern, rule in item.items():
                rule = dict(rule) if isinstance(rule, dict) else {}
                for extra in [k for k in rule if k not in CUSTOM_KEY_FIELDS]:
                    t.skip(f"{key}.{pattern}.{extra}", extra_why)
                keys[str(pattern)] = {k: rule[k] for k in CUSTOM_KEY_FIELDS if k in rule}
            t.set(("paramwise", "custom_keys"), keys, added=True)
        else:
            t.set(("paramwise", name), item)


def optimizer_config(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    if value is None:
        t.skip("optimizer_config", "None: MMCV registers no optimizer hook and never steps; optkit always does")
        return
    d = checked_dict("optimizer_config", value, t)
    if d is None:
        return
    kind = take("optimizer_config", d, "type", t)
    kind = "OptimizerHook" if kind is ABSENT else kind
    arguments = mm.OPTIMIZER_HOOKS.get(kind)
    if arguments is None:
        t.skip("optimizer_config.type", f"{kind!r} is not one of MMCV's optimizer hooks "
               f"({', '.join(mm.OPTIMIZER_HOOKS)}); its own arguments are reported below")
        arguments = {}
    if "Fp16" in str(kind):
        t.set(("trainer", "amp"), "fp16")
        loss_scale(d.pop("loss_scale", arguments.get("loss_scale")), "optimizer_config.loss_scale", t)
    for name, item in evaluated("optimizer_config", d, t):
        key = f"optimizer_config.{name}"
        if name == DELETE_KEY:
            t.skip(key, NO_BASE_TO_DELETE)
        elif name not in arguments:
            t.skip(key, f"not an argument of {kind} (MMCV: TypeError)")
        elif name == "grad_clip":
            grad_clip(item, t)
        elif name == "cumulative_iters":
            accumulate(key, item, t, "MMCV's windows and micro-batch clock (warmup and max_iters count "
                       "micro-batches)")
        elif name == "detect_anomalous_params":
            if item:
                t.skip(key, "a DDP debugging aid; no optkit equivalent")
        elif item != arguments[name]:
            t.skip(key, "an fp16 all-reduce detail of MMCV's hook; optkit's DDP does its own")


def accumulate(key: str, item: Any, t: Translation, clock: str) -> None:
    """Gradient accumulation over `item` micro-batches, with the reference's windows and clock."""
    t.set(("grad", "accumulate"), item)
    if item != 1:
        t.set(("grad", "remainder"), "mmcv")
        t.note(key, f"grad.remainder=mmcv keeps {clock}; optkit's default grad.remainder=flush makes k x b equal "
               "the big batch exactly, with iterations counting optimizer steps")


def grad_clip(value: Any, t: Translation) -> None:
    d = checked_dict("optimizer_config.grad_clip", value, t)
    if d is None:
        return
    for name, item in evaluated("optimizer_config.grad_clip", d, t):
        if name in ("max_norm", "norm_type"):
            t.set(("grad", "clip", name), item)
        else:
            t.skip(f"optimizer_config.grad_clip.{name}", "optkit passes only max_norm and norm_type to "
                   "clip_grad_norm_")
    if ("grad", "clip", "max_norm") not in t.values:
        t.skip("optimizer_config.grad_clip", "no max_norm (MMCV: TypeError from clip_grad_norm_)")


def loss_scale(value: Any, key: str, t: Translation, library: str = "MMCV") -> None:
    if value == "dynamic":
        return
    if isinstance(value, dict):
        t.note(key, f"GradScaler arguments {fmt(value)} are not passed on; optkit uses GradScaler's defaults")
    else:
        t.note(key, f"a static loss scale ({fmt(value)}) in {library}; optkit's GradScaler scales dynamically")


def fp16(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("fp16", value, t)
    if d is None:
        return
    t.set(("trainer", "amp"), "fp16")
    loss_scale(d.pop("loss_scale", 512.0), "fp16.loss_scale", t)
    for name in d:
        t.skip(f"fp16.{name}", "not an fp16 setting optkit has")


def lr_config(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    if value is ABSENT or value is None:
        t.options["schedule"] = "fixed"
        t.note("lr_config", f"{'absent' if value is ABSENT else 'None'}: MMCV registers no lr hook and the lr "
               "stays the optimizer's (schedule=fixed)")
        return
    d = checked_dict("lr_config", value, t)
    if d is None:
        return
    warmup_cfg = {name: take("lr_config", d, name, t) for name in ("warmup", "warmup_iters", "warmup_ratio",
                                                                   "warmup_by_epoch")}
    if hook_policy("lr_config", d, t):
        warmup(warmup_cfg, t)


# config key → (optkit group, MMCV hooks, their common arguments, hook-name suffix, optkit policies)
POLICY_KEYS = {
    "lr_config": ("schedule", mm.LR_HOOKS, mm.LR_HOOK_BASE, "LrUpdaterHook", LR_POLICIES),
    "momentum_config": ("momentum", mm.MOMENTUM_HOOKS, mm.MOMENTUM_HOOK_BASE, "MomentumUpdaterHook",
                        MOMENTUM_POLICIES),
}


def hook_policy(key: str, d: dict[str, Any], t: Translation) -> bool:
    """`policy` → the group's option, the other keys → its fields; False if the policy is not MMCV's."""
    group, hooks, base, suffix, policies = POLICY_KEYS[key]
    policy = policy_option(key, d, hooks, suffix, t)
    if policy is None:
        return False
    option, own = policy
    t.options[group] = option
    hook_arguments(key, d, {**base, **own}, (group, option), policies[option], t)
    return True


def policy_option(key: str, d: dict[str, Any], hooks: dict[str, tuple], suffix: str,
                  t: Translation) -> Optional[tuple[str, dict]]:
    policy = take(key, d, "policy", t)
    if policy is ABSENT:
        t.skip(key, "no policy (MMCV asserts one)")
        return None
    if not isinstance(policy, str):
        t.skip(f"{key}.policy", f"must be a string (got {fmt(policy)})")
        return None
    hook = mm.hook_name(policy)
    if hook not in hooks:
        import difflib

        close = difflib.get_close_matches(hook, list(hooks), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        t.skip(f"{key}.policy", f"{policy!r} means {hook}{suffix}, which MMCV 1.x does not have{hint}")
        return None
    return hooks[hook]


def hook_arguments(key: str, d: dict[str, Any], mmcv_defaults: dict[str, Any], node: tuple[str, str],
                   policy: type, t: Translation) -> None:
    """The hook's keyword arguments as fields of `node` = (group, option); MMCV defaults that
    the option does not share are written out; missing required arguments are reported."""
    group, option = node
    fields = {f.name for f in dataclasses.fields(policy)}
    hook = f"{key}.policy={option}"
    for name, item in evaluated(key, d, t):
        if name in fields and name in mmcv_defaults:
            t.set((group, name), item)
        elif name == DELETE_KEY:
            t.skip(f"{key}.{name}", NO_BASE_TO_DELETE)
        else:
            t.skip(f"{key}.{name}", f"not an argument of this MMCV hook ({hook}; MMCV: TypeError)")
    given = {path[1] for path in t.values if path[0] == group}
    for name, default in mmcv_defaults.items():
        if name in given or name.startswith("warmup") and group == "schedule":
            continue
        if default == mm.REQUIRED:
            t.skip(f"{key}.{name}", f"required by MMCV and missing; optkit's {group}={option} default "
                   f"{fmt(policy_default(policy, group, option, name))} is used")
        elif not same(policy_default(policy, group, option, name), default):
            t.set((group, name), default)
    for target in ("min_lr", "min_momentum"):
        pair = (target, f"{target}_ratio")
        if all(name in mmcv_defaults for name in pair) and not any(name in given for name in pair):
            t.note(key, f"neither {target} nor {pair[1]} (MMCV asserts one); optkit anneals to 0 ({pair[1]}=0)")


def warmup(w: dict[str, Any], t: Translation) -> None:
    kind = w["warmup"]
    given = [name for name, v in w.items() if name != "warmup" and v is not ABSENT]
    if kind is ABSENT or kind is None:
        for name in given:
            t.note(f"lr_config.{name}", "ignored: there is no warmup (MMCV ignores it too)")
        return
    if kind not in mm.WARMUP_KINDS:
        t.skip("lr_config.warmup", f"{kind!r} is not one of {', '.join(mm.WARMUP_KINDS)} (MMCV: ValueError)")
        return
    t.options["warmup"] = str(kind)
    for mmcv_name, name in (("warmup_iters", "iters"), ("warmup_ratio", "ratio"), ("warmup_by_epoch", "by_epoch")):
        value = w[mmcv_name]
        if value is ABSENT:
            default = mm.LR_HOOK_BASE[mmcv_name]
            if mmcv_name == "warmup_iters":
                t.skip("lr_config.warmup_iters", "missing: MMCV asserts warmup_iters > 0 when warmup is set; "
                       f"optkit's default {policy_default(Warmup, 'warmup', str(kind), 'iters')} is used")
            elif not same(policy_default(Warmup, "warmup", str(kind), name), default):
                t.set(("warmup", name), default)
        else:
            t.set(("warmup", name), value)


def momentum_config(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("momentum_config", value, t)
    if d is not None:
        hook_policy("momentum_config", d, t)


def runner(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("runner", value, t)
    if d is None:
        return
    kind = take("runner", d, "type", t)
    length = mm.RUNNERS.get(kind) if isinstance(kind, str) else None
    if length is None:
        t.skip("runner.type", f"{'missing' if kind is ABSENT else repr(kind)}: optkit translates "
               f"{' and '.join(mm.RUNNERS)} only")
        return
    for name, item in evaluated("runner", d, t):
        if name == length:
            t.set(("trainer", name), item)
        else:
            t.skip(f"runner.{name}", f"{kind} is bounded by {length} only")
    by_epoch = by_epoch_groups(t)
    if kind == "IterBasedRunner" and by_epoch:
        t.note("runner", f"IterBasedRunner with {' and '.join(by_epoch)} by_epoch=True: MMCV's epoch counter "
               "barely moves there, optkit's counts passes over the data set; MMCV configs for it say by_epoch=False")


def by_epoch_groups(t: Translation) -> list[str]:
    """The scheduled groups that count epochs (a fixed lr has nothing to count)."""
    found = []
    for group, policies in (("schedule", LR_POLICIES), ("momentum", MOMENTUM_POLICIES)):
        option = t.options.get(group)
        if option not in (None, "fixed") and t.values.get(
                (group, "by_epoch"), policy_default(policies[option], group, option, "by_epoch")):
            found.append(group)
    return found


def total_epochs(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    if value is ABSENT:
        return
    runner_cfg = cfg.get("runner")
    if runner_cfg is None:
        t.set(("trainer", "max_epochs"), value)
        t.note("total_epochs", "the legacy key; MMClassification turns it into an EpochBasedRunner")
    elif not (isinstance(runner_cfg, dict) and runner_cfg.get("max_epochs") == value):
        t.skip("total_epochs", "differs from runner.max_epochs (MMClassification asserts they agree)")


def data(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("data", value, t)
    if d is None:
        return
    for name, item in evaluated("data", d, t):
        if name == "samples_per_gpu":
            t.set(("data", "batch_size"), item)
        else:
            t.skip(f"data.{name}", DATA_KEYS.get(name, "no optkit equivalent"))


def custom_import_list(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return []
    imports = value.get("imports", [])
    return [imports] if isinstance(imports, str) else [str(m) for m in imports if isinstance(m, str)]


def custom_imports(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("custom_imports", value, t)
    if d is None:
        return
    imports = take("custom_imports", d, "imports", t)
    if imports is not ABSENT:
        t.set(("custom_imports",), custom_import_list({"imports": imports}))
    failed = take("custom_imports", d, "allow_failed_imports", t)
    if failed is not ABSENT:
        t.set(("allow_failed_imports",), bool(failed))
    for name in d:
        t.skip(f"custom_imports.{name}", "MMCV reads imports and allow_failed_imports only")


HANDLERS: dict[str, Callable[[Any, Translation, dict[str, Any]], None]] = {
    "optimizer": optimizer,
    "optimizer_config": optimizer_config,
    "fp16": fp16,
    "lr_config": lr_config,
    "momentum_config": momentum_config,
    "runner": runner,
    "total_epochs": total_epochs,
    "data": data,
    "custom_imports": custom_imports,
    "custom_hooks": hooks.custom_hooks,
    "auto_scale_lr": hooks.auto_scale_lr,
    "model": model_keys.model,
    "load_from": model_keys.load_from,
}

STREAMED_ONLY = "a setting of data=dataset|image_folder (optkit's bundled data sets are in memory)"
DATA_SETS = "data sets are optkit options (data=" + "|".join(options("data")) + ")"
DATA_KEYS = {
    "workers_per_gpu": f"data.num_workers: {STREAMED_ONLY}",
    "train": DATA_SETS, "val": DATA_SETS, "test": DATA_SETS,
}
OTHER_KEYS = {
    "dataset_type": DATA_SETS, "img_norm_cfg": DATA_SETS, "train_pipeline": DATA_SETS, "test_pipeline": DATA_SETS,
    "evaluation": "optkit evaluates every trainer.eval_every epochs",
    "checkpoint_config": "optkit checkpoints every trainer.ckpt_every epochs",
    "log_config": "optkit logs every logging.log_every steps (TensorBoard, metrics.jsonl)",
    "resume_from": "an MMCV checkpoint; optkit resumes only its own (trainer.resume)",
    "dist_params": "the distributed backend comes from torchrun / SLURM",
    **{key: "no optkit equivalent" for key in ("log_level", "workflow", "work_dir", "gpu_ids", "seed", "device",
                                                "opencv_num_threads", "mp_start_method", "auto_resume")},
}
