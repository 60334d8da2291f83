"""Batch mixup and cutmix on the device: MMClassification 0.x `train_cfg.augments`.

    train_cfg = dict(augments=[dict(type='BatchMixup', alpha=0.8, num_classes=1000, prob=0.5),
                               dict(type='BatchCutMix', alpha=1.0, num_classes=1000, prob=0.5)])
    →  augments='[{type: BatchMixup, alpha: 0.8, prob: 0.5}, {type: BatchCutMix, alpha: 1.0, prob: 0.5}]'

As `mmcls.models.utils.augment.Augments`: each training micro-batch gets one augment, drawn
with the `prob`s (the rest of the probability picks none: one-hot targets only). Both mix
the batch with a permutation of itself by λ ~ Beta(α, α) (numpy's global RNG, as MMCls;
the permutation from torch's, on the device): mixup blends images, cutmix pastes a box of
area (1 − λ) (clipped to the image, λ then recomputed from the clipped box, MMCls's
`BatchCutMixLayer.cutmix_bbox_and_lam` with `correct_lam=True`). Targets become
`λ·onehot(y) + (1 − λ)·onehot(y[perm])`. Both RNGs are in the checkpoint, so a resumed
run draws the same mixes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from optkit.errors import ConfigError

KINDS = ("BatchMixup", "BatchCutMix")
Batch = tuple[torch.Tensor, torch.Tensor]


def mixup(x: torch.Tensor, onehot: torch.Tensor, lam: float, perm: torch.Tensor) -> Batch:
    return lam * x + (1 - lam) * x[perm], lam * onehot + (1 - lam) * onehot[perm]


def cutmix_box(height: int, width: int, lam: float, cy: int, cx: int) -> tuple[int, int, int, int]:
    """MMCls `rand_bbox`: a box of side ratio sqrt(1 − λ) centred at pixel (cy, cx), clipped."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    y1, y2 = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    x1, x2 = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    return int(y1), int(y2), int(x1), int(x2)


def cutmix(x: torch.Tensor, onehot: torch.Tensor, box: tuple[int, int, int, int], perm: torch.Tensor) -> Batch:
    """Paste box (y1, y2, x1, x2) from the permuted batch; λ is the share left unpasted."""
    y1, y2, x1, x2 = box
    lam = 1.0 - (y2 - y1) * (x2 - x1) / (x.shape[-2] * x.shape[-1])
    mixed = x.clone()
    mixed[..., y1:y2, x1:x2] = x[perm][..., y1:y2, x1:x2]
    return mixed, lam * onehot + (1 - lam) * onehot[perm]


@dataclass(frozen=True)
class Augment:
    kind: str  # BatchMixup | BatchCutMix
    alpha: float
    prob: float


def check_augments(augments: Sequence[Any], in_shape: Optional[tuple[int, ...]] = None) -> list[Augment]:
    """The config's `augments` list as `Augment`s; one `ConfigError` for a bad entry (cutmix
    needs images: inputs of shape (C, H, W), when the shape is known)."""
    parsed = []
    for i, item in enumerate(augments):
        key = f"augments[{i}]"
        kind = item.get("type")
        if kind not in KINDS:
            raise ConfigError(f"{key}.type", "unknown batch augment", kind, KINDS)
        alpha, prob = item.get("alpha", 1.0), item.get("prob", 1.0)
        if not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ConfigError(f"{key}.alpha", "must be > 0", alpha)
        if not (isinstance(prob, (int, float)) and 0 <= prob <= 1):
            raise ConfigError(f"{key}.prob", "must be in [0, 1]", prob)
        unknown = set(item) - {"type", "alpha", "prob", "num_classes"}
        if unknown:
            raise ConfigError(f"{key}.{sorted(unknown)[0]}", "unknown key", sorted(unknown)[0], ["alpha", "prob"])
        if kind == "BatchCutMix" and in_shape is not None and len(in_shape) != 3:
            raise ConfigError(f"{key}.type", f"cuts boxes out of images (C, H, W); the inputs are {list(in_shape)}",
                              kind)
        parsed.append(Augment(kind, float(alpha), float(prob)))
    if sum(a.prob for a in parsed) > 1 + 1e-9:
        raise ConfigError("augments", "the probs add up to more than 1", [a.prob for a in parsed])
    return parsed


class BatchAugments:
    """Wraps a micro-batch source: `(x, y)` → mixed inputs and soft targets."""

    def __init__(self, augments: Sequence[Augment], num_classes: int,
                 batch: Callable[[torch.Tensor], Batch]) -> None:
        self.augments = list(augments)
        self.probs = [a.prob for a in self.augments]
        self.none = 1.0 - sum(self.probs)
        self.num_classes = num_classes
        self.batch = batch

    def __call__(self, index: torch.Tensor) -> Batch:
        x, y = self.batch(index)
        onehot = F.one_hot(y, self.num_classes).to(x.dtype if x.is_floating_point() else torch.float32)
        pick = np.random.choice(len(self.augments) + 1, p=[*self.probs, max(self.none, 0.0)])
        if pick == len(self.augments):
            return x, onehot
        augment = self.augments[pick]
        lam = float(np.random.beta(augment.alpha, augment.alpha))
        perm = torch.randperm(len(y), device=y.device)
        if augment.kind == "BatchMixup":
            return mixup(x, onehot, lam, perm)
        height, width = x.shape[-2:]
        cy, cx = np.random.randint(0, height), np.random.randint(0, width)
        return cutmix(x, onehot, cutmix_box(height, width, lam, cy, cx), perm)
