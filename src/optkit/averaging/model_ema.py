"""The EMA weights themselves: a copy of the model updated by one foreach lerp per update."""
from __future__ import annotations

import copy
from typing import Any, Optional, Protocol

import torch
from torch import nn


class EmaPolicy(Protocol):
    average_buffers: bool

    def weight(self, t: int) -> Optional[float]: ...


class ModelEma:
    """A frozen copy of the model (`module`, what validation evaluates) whose floating-point
    parameters, and buffers when the policy averages them, move towards the model's by
    `torch._foreach_lerp_` — one call per update (timm `ModelEmaV3.apply_update_`).
    Other buffers (BatchNorm's `num_batches_tracked`, or every buffer under `copy`) are the
    model's, copied at each update and again before the copy is evaluated or saved.

    Under DDP every rank holds the same average: the parameters are equal on every rank
    after each step, and `sync_buffers` (before evaluation and saving) gives every rank
    rank 0's buffers, as DDP's own `broadcast_buffers` does for the model at each forward.
    """

    def __init__(self, model: nn.Module, policy: EmaPolicy) -> None:
        self.policy = policy
        self.model = model
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        pairs = list(zip(self.module.parameters(), model.parameters()))
        buffers = list(zip(self.module.buffers(), model.buffers()))
        averaged = pairs + ([b for b in buffers if b[0].is_floating_point()] if policy.average_buffers else [])
        self.averaged = ([e for e, _ in averaged], [m.detach() for _, m in averaged])
        self.copied = [(e, m) for e, m in buffers if not (policy.average_buffers and e.is_floating_point())]

    @torch.no_grad()
    def update(self, t: int) -> None:
        """After optimizer step t (1-based)."""
        weight = self.policy.weight(t)
        if weight is None:
            return
        torch._foreach_lerp_(self.averaged[0], self.averaged[1], weight)
        self.copy_buffers()

    @torch.no_grad()
    def copy_buffers(self) -> None:
        for ema, live in self.copied:
            ema.copy_(live)

    def sync_buffers(self) -> None:
        """Live buffers copied in, then rank 0's buffers on every rank (a no-op without DDP)."""
        self.copy_buffers()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            for buffer in self.module.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def state_dict(self) -> dict[str, Any]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state)
