"""Muon for 2-D weight matrices, AdamW for every other parameter, as one optimizer.

`torch.optim.Muon` orthogonalises the momentum of a 2-D matrix (Newton–Schulz iteration;
Jordan et al. 2024) and refuses any other shape, and its documentation says to train
biases, norm weights and embeddings with AdamW beside it. Every optkit model has such
parameters, so `optimizer=muon` alone cannot train them; `optimizer=muon_adamw` is that
split in one `torch.optim.Optimizer`, so the schedule, the momentum policy, clipping, AMP
and checkpoints see one optimizer like any other.

Each param group from the constructor (paramwise groups included) is split in two: its
2-D parameters (`ndim == 2`: Linear weights, the classifier head too) go to Muon and keep
the group's name with `/muon`, the others to AdamW with `/adamw`. Both halves use the
group's own lr and weight decay. So that one lr suits both, Muon's update is rescaled to
AdamW's RMS by default (`adjust_lr_fn="match_rms_adamw"`, Liu et al. 2025, "Muon is
Scalable for LLM Training"). The momentum policy sets Muon's `momentum` and AdamW's
`betas[0]` (each from its own initial value, as MMCV does per group).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch


class MuonAdamW(torch.optim.Optimizer):
    """torch.optim.Muon on the 2-D parameters, torch.optim.AdamW on the rest (see module)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        weight_decay: float = 0.1,  # torch.optim.Muon's default, used by both halves
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: Optional[str] = "match_rms_adamw",
        betas: tuple[float, float] = (0.9, 0.999),  # AdamW half: torch.optim.AdamW's defaults
        adamw_eps: float = 1e-8,
        fused: Optional[bool] = None,
    ) -> None:
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        halves: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for group in groups:
            tensors = list(group["params"])
            for is_matrix in (True, False):
                part = [p for p in tensors if (p.ndim == 2) == is_matrix]
                if part:
                    name = group.get("name", "default")
                    halves[is_matrix].append({**group, "params": part, "name": f"{name}/{'muon' if is_matrix else 'adamw'}"})
        self.parts: list[torch.optim.Optimizer] = []
        if halves[True]:
            self.parts.append(torch.optim.Muon(
                halves[True], lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn))
        if halves[False]:
            self.parts.append(torch.optim.AdamW(halves[False], lr=lr, betas=tuple(betas), eps=adamw_eps,
                                                weight_decay=weight_decay, fused=fused))
        # The halves' group dicts *are* this optimizer's groups: an lr written by the scheduler
        # reaches the part that steps it.
        super().__init__([g for part in self.parts for g in part.param_groups], {"lr": lr, "weight_decay": weight_decay})
        self.link()

    def link(self) -> None:
        """Point the parts at this optimizer's group dicts and one shared state."""
        start = 0
        for part in self.parts:
            part.param_groups = self.param_groups[start : start + len(part.param_groups)]
            part.state = self.state
            start += len(part.param_groups)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)  # builds new group dicts and a new state
        self.link()

    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """Step every part; a closure (torch's convention) is evaluated once, by the first."""
        loss = self.parts[0].step(closure)
        for part in self.parts[1:]:
            part.step()
        return loss
