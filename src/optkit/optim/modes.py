"""Optimizers with `train()` / `eval()` modes, such as the schedule-free ones (Defazio et al.
2024, `schedulefree.AdamWScheduleFree`): they train on one sequence of weights and evaluate
another, and switch the model's parameters between the two. optkit puts such an optimizer in
`train()` mode before training and around every `eval()` it needs: validation and checkpoints
see (and save) the evaluation weights, training goes on with the training ones.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator


def has_modes(optimizer: Any) -> bool:
    return callable(getattr(optimizer, "train", None)) and callable(getattr(optimizer, "eval", None))


def train_mode(optimizer: Any) -> None:
    """Before the first step (schedule-free optimizers start in eval mode and refuse to step)."""
    if has_modes(optimizer):
        optimizer.train()


@contextlib.contextmanager
def eval_weights(optimizer: Any) -> Iterator[None]:
    """The model holds the optimizer's evaluation weights inside the block."""
    if not has_modes(optimizer):
        yield
        return
    optimizer.eval()
    try:
        yield
    finally:
        optimizer.train()
