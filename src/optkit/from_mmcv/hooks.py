"""The MMCV keys that became optkit groups of issue 15: `custom_hooks` (MMCV's `EMAHook` →
`ema=mmcv`) and `auto_scale_lr` (MMDetection 2.x → optkit's `auto_scale_lr`)."""
from __future__ import annotations

from typing import Any

from optkit.from_mmcv.translation import ABSENT, Translation, checked_dict, evaluated, fmt, take

EMA_FIELDS = ("momentum", "interval", "warm_up")


def hook_list(value: Any, t: Translation, library: str) -> list[Any]:
    """`custom_hooks` as a list (absent or None: empty; anything else is reported)."""
    if value is ABSENT or value is None:
        return []
    if not isinstance(value, (list, tuple)):
        t.skip("custom_hooks", f"{library} expects a list of hook dicts (got {fmt(value)})")
        return []
    return list(value)


def custom_hooks(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    """`custom_hooks=[dict(type='EMAHook', momentum=..., interval=..., warm_up=...)]` →
    `ema=mmcv` with those fields; every other hook is reported."""
    for i, hook in enumerate(hook_list(value, t, "MMCV")):
        key = f"custom_hooks[{i}]"
        d = checked_dict(key, hook, t)
        if d is None:
            continue
        d = dict(d)
        kind = take(key, d, "type", t)
        if kind != "EMAHook":
            t.skip(key, f"{fmt(kind)}: no optkit equivalent (optkit translates MMCV's EMAHook)")
            continue
        t.options["ema"] = "mmcv"
        for name in EMA_FIELDS:
            field_value = take(key, d, name, t)
            if field_value is not ABSENT:
                t.set(("ema", name), field_value)
        if take(key, d, "priority", t) is not ABSENT:
            t.note(f"{key}.priority", "optkit validates the EMA weights at every validation (val/*), the trained "
                                      "weights as val_raw/*; no hook order to set")
        if take(key, d, "resume_from", t) is not ABSENT:
            t.skip(f"{key}.resume_from", "an MMCV checkpoint; optkit resumes only its own (trainer.resume)")
        for name, _ in evaluated(key, d, t):
            t.skip(f"{key}.{name}", "not an argument of EMAHook (MMCV: TypeError)")


def auto_scale_lr(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    """`auto_scale_lr=dict(enable=..., base_batch_size=...)` (MMDetection 2.x) → optkit's."""
    d = checked_dict("auto_scale_lr", value, t)
    if d is None:
        return
    d = dict(d)
    for name in ("enable", "base_batch_size"):
        field_value = take("auto_scale_lr", d, name, t)
        if field_value is not ABSENT:
            t.set(("auto_scale_lr", name), field_value)
    if ("grad", "accumulate") in t.values:
        t.note("auto_scale_lr", "optkit's total batch counts grad.accumulate too (MMDetection: GPUs × "
                                "samples_per_gpu)")
    for name, _ in evaluated("auto_scale_lr", d, t):
        t.skip(f"auto_scale_lr.{name}", "MMDetection reads enable and base_batch_size only")
