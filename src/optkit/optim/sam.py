"""Sharpness-Aware Minimization around any optimizer (Foret et al. 2021, "Sharpness-Aware
Minimization for Efficiently Improving Generalization"), with ASAM's adaptive radius
(Kwon et al. 2021).

One SAM step at weights w, neighbourhood radius ρ (`rho`), T = |w| elementwise with
`adaptive` and 1 without:

    g  = ∇L(w)                          first forward/backward over the step's window
    e  = ρ · T² g / ‖T g‖₂               ‖·‖₂ over every parameter with a gradient
    g' = ∇L(w + e)                      second forward/backward, same window
    w ← base.step(w, g')                the base optimizer, at the original w

as the authors' code (google-research/sam) and the widely used PyTorch port (davda54/sam,
including its 1e-12 in the denominator and its restore from a saved copy, which gives w
back bit for bit) compute it. `optkit.multipass.SAMStep` drives the two passes and calls
`perturb`, `restore`, then the usual clip/AMP/step path; this class holds the arithmetic
and the base optimizer, whose param groups and state are its own (`Composite`): the
schedule sets the base's lr, and checkpoints hold the base's state. SAM keeps nothing
between steps.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch

from optkit.optim.composite import Composite


def perturbation(params: list[torch.Tensor], grads: list[torch.Tensor], rho: float,
                 adaptive: bool) -> list[torch.Tensor]:
    """e = ρ · T² g / (‖T g‖₂ + 1e-12), T = |w| (adaptive) or 1. A non-finite g gives a
    non-finite e, which the second pass turns into a non-finite gradient (step not applied)."""
    weighted = torch._foreach_mul(grads, torch._foreach_abs(params)) if adaptive else grads
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(weighted)))
    scale = rho / (norm + 1e-12)
    return torch._foreach_mul(torch._foreach_mul(weighted, torch._foreach_abs(params)) if adaptive else grads, scale)


class SAM(Composite):
    """SAM / ASAM around `base` (an optimizer class with its arguments bound, as the
    `optimizer.base` config node instantiates); `step()` is the base optimizer's step."""

    def __init__(self, params: Iterable[Any], base: Callable[..., torch.optim.Optimizer], rho: float = 0.05,
                 adaptive: bool = False) -> None:
        if not rho > 0:
            raise ValueError(f"rho must be > 0, got {rho}")
        self.rho, self.adaptive = rho, adaptive
        self.saved: Optional[tuple[list[torch.Tensor], list[torch.Tensor]]] = None  # (moved, their w) in a step
        inner = base(params)
        super().__init__([inner], dict(inner.defaults))

    @property
    def base(self) -> torch.optim.Optimizer:
        return self.parts[0]

    @torch.no_grad()
    def perturb(self) -> None:
        """w ← w + e, keeping a copy of w (only parameters with a gradient move)."""
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        grads = [p.grad for p in params]
        shift = perturbation(params, grads, self.rho, self.adaptive)
        self.saved = (params, [p.detach().clone() for p in params])
        torch._foreach_add_(params, shift)

    @torch.no_grad()
    def restore(self) -> None:
        """w back from the copy, bit for bit."""
        assert self.saved is not None, "restore() without perturb()"
        torch._foreach_copy_(*self.saved)
        self.saved = None

    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        return self.base.step(closure)

