"""The training loss (`loss` config group): a callable `(logits, target) -> scalar loss`.

`cross_entropy` (the default) is `F.cross_entropy` with MMCls's `CrossEntropyLoss` options:
`label_smoothing` (the head's `label_smooth_val`) and a per-class `weight`. It takes class
indices or, after batch mixup/cutmix (`optkit.batch_augment`), class probabilities.
`soft_target_cross_entropy` is timm's `SoftTargetCrossEntropy`: `mean(Σ −t·log softmax(z))`.
Any other `_target_` works: a class is instantiated with the node's arguments, a function
is bound to them (`functools.partial`), and the result is called with (logits, target).
Validation's `val/loss` stays the plain cross-entropy, comparable across losses.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from optkit.errors import ConfigError
from optkit.instantiate import instantiate_at, locate_at

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CrossEntropy:
    """`F.cross_entropy(logits, target, weight, label_smoothing)` on hard or soft targets."""

    def __init__(self, label_smoothing: float = 0.0, weight: Optional[Sequence[float]] = None) -> None:
        if not 0 <= label_smoothing < 1:
            raise ConfigError("label_smoothing", "must be in [0, 1)", label_smoothing)
        if weight is not None and not all(w >= 0 for w in weight):
            raise ConfigError("weight", "class weights must be >= 0", list(weight))
        self.label_smoothing = label_smoothing
        self.weight = None if weight is None else torch.tensor(list(weight), dtype=torch.float32)

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        if weight is not None:
            if weight.device != logits.device:
                self.weight = weight = weight.to(logits.device)
            if len(weight) != logits.shape[1]:
                raise ConfigError("loss.weight", f"has {len(weight)} class weights for {logits.shape[1]} classes",
                                  weight.tolist())
        return F.cross_entropy(logits, target, weight=weight, label_smoothing=self.label_smoothing)


def soft_target_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """timm's SoftTargetCrossEntropy; class indices count as one-hot targets."""
    if target.ndim == 1:
        target = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()


def build_loss(node: Any) -> LossFn:
    """The loss of config node `loss`: a class instantiated, a function bound to its arguments."""
    target = locate_at("loss._target_", node._target_)
    loss = instantiate_at("loss", node, _partial_=not isinstance(target, type))
    if not callable(loss):
        raise ConfigError("loss._target_", "must build a callable (logits, target) -> loss", node._target_)
    return loss
