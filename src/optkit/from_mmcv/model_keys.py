"""The parts of an MMClassification / MMPretrain config outside the optimizer that still
change training: the head's loss, `train_cfg.augments` and `load_from`.

| MMCls 0.x / MMPretrain 1.x | optkit |
|---|---|
| `model.head.loss` `LabelSmoothLoss(label_smooth_val, mode)` | `loss.label_smoothing` (of the default `loss=cross_entropy`) |
| `model.head.loss` `CrossEntropyLoss()` | the default `loss=cross_entropy` (soft targets after mixup as `use_soft`) |
| `model.train_cfg.augments` `BatchMixup`/`BatchCutMix` (0.x), `Mixup`/`CutMix` + `probs` (1.x) | `augments` |
| `load_from` | `trainer.load_from`, `trainer.load_strict=false` (both runners load with `strict=False`) |

MMCls's `LabelSmoothLoss` smooths a one-hot (or mixed) target to `t·(1 − ε) + ε / C`, which
is `F.cross_entropy(label_smoothing=ε)`; `mode='classy_vision'` uses `ε / (1 + ε)`. The
network itself (`type`, `backbone`, `neck`, the rest of `head`) is an optkit option.
"""
from __future__ import annotations

from typing import Any

from optkit.from_mmcv.catalogue import options
from optkit.from_mmcv.translation import ABSENT, Translation, checked_dict, evaluated, fmt, take

AUGMENTS = {"BatchMixup": "BatchMixup", "BatchCutMix": "BatchCutMix",  # MMCls 0.x
            "Mixup": "BatchMixup", "CutMix": "BatchCutMix"}  # MMPretrain 1.x
SMOOTHING_MODES = ("original", "classy_vision")
MODELS = "models are optkit options (model=" + "|".join(options("model")) + ")"


def model(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    d = checked_dict("model", value, t)
    if d is None:
        return
    train_cfg = checked_dict("model.train_cfg", take("model", d, "train_cfg", t), t)
    if train_cfg is not None:
        augments(train_cfg, t)
    head = d.get("head")
    if isinstance(head, dict) and "loss" in head:  # the rest of the head is the network's
        head_loss(take("model.head", dict(head), "loss", t), t)
    if d:
        t.skip("model", MODELS)


def augments(train_cfg: dict[str, Any], t: Translation) -> None:
    """MMCls 0.x gives each augment its `prob` (default 1); MMPretrain 1.x lists `probs`
    beside them, uniform when absent. Both leave the rest of the probability to no mix."""
    items = take("model.train_cfg", train_cfg, "augments", t)
    probs = take("model.train_cfg", train_cfg, "probs", t)
    for name in train_cfg:
        t.skip(f"model.train_cfg.{name}", "no optkit equivalent")
    if items is ABSENT or items is None:
        return
    items = [items] if isinstance(items, dict) else list(items)
    if probs is ABSENT or probs is None:
        probs = [None] * len(items)
    elif isinstance(probs, (int, float)) or len(probs) != len(items):
        t.skip("model.train_cfg.probs", f"{fmt(probs)}: one prob per augment ({len(items)})")
        return
    out = []
    for i, (item, prob) in enumerate(zip(items, probs)):
        key = f"model.train_cfg.augments.{i}"
        item = checked_dict(key, item, t)
        if item is None:
            return
        kind = item.pop("type", None)
        if kind not in AUGMENTS:
            t.skip(key, f"{fmt(kind)}: optkit mixes batches with " + " | ".join(AUGMENTS))
            return
        if prob is None:
            prob = item.pop("prob", 1.0) if kind.startswith("Batch") else 1.0 / len(items)
        if item.pop("correct_lam", True) is not True or item.pop("cutmix_minmax", None) is not None:
            t.skip(key, f"{kind}: optkit's cutmix is MMCls's default (correct_lam=True, no cutmix_minmax)")
            return
        out.append({"type": AUGMENTS[kind], "alpha": float(item.pop("alpha", 1.0)), "prob": float(prob)})
        item.pop("num_classes", None)  # the data set's
        for name in item:
            t.skip(f"{key}.{name}", "no optkit equivalent")
    t.set(("augments",), out)
    if len(out) > 1:
        t.note("augments", "which augment a batch gets is drawn from numpy's global RNG, as in MMCls, not in "
               "the same sequence")


def head_loss(value: Any, t: Translation) -> None:
    key = "model.head.loss"
    d = checked_dict(key, value, t)
    if d is None:
        return
    kind = d.pop("type", None)
    if kind not in ("CrossEntropyLoss", "LabelSmoothLoss"):
        t.skip(key, f"{fmt(kind)}: no optkit equivalent (loss=custom takes your own)")
        return
    settings = dict(evaluated(key, d, t))
    if settings.pop("use_sigmoid", False) or settings.get("mode") == "multi_label":
        t.skip(key, f"{kind} with a sigmoid (multi-label): no optkit equivalent (loss=custom takes your own)")
        return
    if settings.pop("loss_weight", 1.0) != 1.0 or settings.pop("reduction", "mean") != "mean":
        t.skip(key, f"{kind}: optkit's loss is the batch mean with weight 1 (loss_weight, reduction)")
        return
    if settings.pop("class_weight", None) is not None:
        t.skip(f"{key}.class_weight", "MMCls averages the weighted losses over the batch, torch's loss.weight "
               "divides by the weights' sum: not the same loss")
    settings.pop("use_soft", None)  # optkit's cross_entropy takes class indices and probabilities alike
    settings.pop("num_classes", None)  # the data set's
    if kind == "LabelSmoothLoss":
        eps = float(settings.pop("label_smooth_val", 0.0))
        mode = settings.pop("mode", "original") or "original"
        if mode not in SMOOTHING_MODES:
            t.skip(f"{key}.mode", f"{fmt(mode)}: optkit smooths as " + " | ".join(SMOOTHING_MODES))
            return
        t.set(("loss", "label_smoothing"), eps / (1 + eps) if mode == "classy_vision" else eps)
    for name in settings:
        t.skip(f"{key}.{name}", "no optkit equivalent")


def load_from(value: Any, t: Translation, cfg: dict[str, Any]) -> None:
    if value is ABSENT or value is None:
        return
    if not isinstance(value, str):
        t.skip("load_from", f"a path (got {fmt(value)})")
    elif "://" in value:
        t.skip("load_from", f"{value}: a URL; download it and set trainer.load_from=<the file>")
    else:
        t.set(("trainer", "load_from"), value)
        t.set(("trainer", "load_strict"), False)
