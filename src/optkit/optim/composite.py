"""An optimizer made of other optimizers ("parts") that the loop sees as one.

The schedule writes each group's lr and momentum, clipping and AMP walk `param_groups`, and
checkpoints hold `state_dict()`; so the composite's groups and state *are* its parts' (the
same dict objects), and loading a state dict, which builds new ones, points the parts at
them again. `MuonAdamW` (two parts side by side) and `SAM` (one base optimizer, stepped
after two gradient passes) are built on it; the dry run lists each part's kernel.
"""
from __future__ import annotations

from typing import Any

import torch


class Composite(torch.optim.Optimizer):
    """`parts` in order; the composite's param groups are theirs, concatenated."""

    def __init__(self, parts: list[torch.optim.Optimizer], defaults: dict[str, Any]) -> None:
        self.parts = parts
        super().__init__([group for part in parts for group in part.param_groups], defaults)
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
