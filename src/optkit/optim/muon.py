"""Muon for the hidden weight matrices, AdamW for every other parameter, as one optimizer.

`torch.optim.Muon` orthogonalises the momentum of a 2-D matrix (Newton–Schulz iteration;
Jordan et al. 2024) and refuses any other shape; its documentation, Keller Jordan's and
timm's say to train embeddings, the classifier head, norm weights and biases with AdamW
beside it. So `optimizer=muon` (and its alias `muon_adamw`, which also exposes AdamW's
arguments) builds `MuonAdamW`, which trains any model:

* Muon steps the *hidden* weights: a parameter with ≥ 2 dimensions, none of its first two
  of size 1 (timm's `_is_suitable_for_muon`: that leaves out class/position tokens
  `(1, n, d)` and depthwise or one-channel conv kernels `(c, 1, k, k)`), not held by an
  `nn.Embedding`/`nn.EmbeddingBag`, and not the head (the model's last `nn.Linear`, the
  classifier of every optkit model). A conv kernel `(out, in, k, k)` is stepped as the
  matrix `(out, in·k·k)`, timm's `flatten` mode (`FlatMuon`: torch's Muon step on views).
* AdamW steps the rest.

Each param group from the constructor (paramwise groups included) is split in two, named
`<group>/muon` and `<group>/adamw`; both halves use the group's lr and weight decay (the
dry run prints the split). With `muon_adamw` Muon's update is rescaled to AdamW's RMS by
default (`adjust_lr_fn="match_rms_adamw"`, Liu et al. 2025) so that one lr suits both;
`muon` keeps torch.optim.Muon's own defaults. The momentum policy sets Muon's `momentum`
and AdamW's `betas[0]` (each from its own initial value, as MMCV does per group).
Without a model (MuonAdamW built directly on tensors) only the shape rule applies.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch
from torch import nn

from optkit.optim.composite import Composite

MUON_KEY = "muon"  # param-group key the constructor sets: True for Muon's half, False for AdamW's


def matrix_shaped(p: torch.Tensor) -> bool:
    """≥ 2 dimensions and neither of the first two is 1 (timm's rule for Muon's matrices)."""
    return p.ndim >= 2 and p.shape[0] > 1 and p.shape[1] > 1


def hidden_weights(model: nn.Module) -> set[int]:
    """ids of the parameters Muon steps: matrix-shaped, not an embedding's, not the head's."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    excluded = {id(p) for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))
                for p in m.parameters()}
    excluded |= {id(p) for p in linears[-1].parameters()} if linears else set()
    return {id(p) for p in model.parameters() if matrix_shaped(p) and id(p) not in excluded}


def split_groups(model: nn.Module, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each group as its hidden-weight half and the rest (`MUON_KEY` set, empty halves dropped)."""
    hidden = hidden_weights(model)
    halves = []
    for group in groups:
        for to_muon in (True, False):
            params = [p for p in group["params"] if (id(p) in hidden) == to_muon]
            if params:
                halves.append({**group, "params": params, MUON_KEY: to_muon})
    return halves


class FlatMuon(torch.optim.Muon):
    """torch.optim.Muon stepping an n-D weight `(out, in, *k)` as the matrix `(out, in·∏k)`.

    torch's step runs unchanged on 2-D views of the parameter, its gradient and its momentum
    buffer (kept in the parameter's shape), so a 2-D weight is stepped exactly as by
    torch.optim.Muon and a conv kernel as timm's Muon does (`flatten`), with the lr
    adjustment from the matrix's shape. torch's constructor refuses n-D parameters before
    any step, so its argument checks run on a stand-in matrix."""

    def __init__(self, params: Iterable[Any], **kwargs: Any) -> None:
        probe = torch.optim.Muon([torch.zeros(2, 2)], **kwargs)  # torch's own argument checks
        torch.optim.Optimizer.__init__(self, params, probe.defaults)

    def _init_group(self, group: dict[str, Any], params_with_grad: list[torch.Tensor], grads: list[torch.Tensor],
                    muon_momentum_bufs: list[torch.Tensor]) -> bool:
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p.grad, memory_format=torch.preserve_format)
            params_with_grad.append(p.view(len(p), -1))
            grads.append(p.grad.view(len(p), -1))
            muon_momentum_bufs.append(state["momentum_buffer"].view(len(p), -1))
        return False  # no complex parameters (torch's Muon refuses them)


class MuonAdamW(Composite):
    """FlatMuon on the hidden weights, torch.optim.AdamW on the rest (see module)."""

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
            if MUON_KEY in group:
                tagged = [(group[MUON_KEY], list(group["params"]))]
            else:
                tensors = list(group["params"])
                tagged = [(to_muon, [p for p in tensors if matrix_shaped(p) == to_muon]) for to_muon in (True, False)]
            for to_muon, part in tagged:
                if part:
                    rest = {k: v for k, v in group.items() if k != MUON_KEY}
                    name = f"{group.get('name', 'default')}/{'muon' if to_muon else 'adamw'}"
                    halves[to_muon].append({**rest, "params": part, "name": name})
        parts: list[torch.optim.Optimizer] = []
        if halves[True]:
            parts.append(FlatMuon(halves[True], lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                  ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps,
                                  adjust_lr_fn=adjust_lr_fn))
        if halves[False]:
            parts.append(torch.optim.AdamW(halves[False], lr=lr, betas=tuple(betas), eps=adamw_eps,
                                           weight_decay=weight_decay, fused=fused))
        super().__init__(parts, {"lr": lr, "weight_decay": weight_decay})

    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """Step every part; a closure (torch's convention) is evaluated once, by the first."""
        loss = self.parts[0].step(closure)
        for part in self.parts[1:]:
            part.step()
        return loss
