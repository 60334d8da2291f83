"""A loss function with an argument of its own (Lin et al. 2017, "Focal Loss for Dense
Object Detection"): `mean((1 − p_y)^γ · −log p_y)`; γ = 0 is the cross-entropy.

    python train.py loss=custom loss._target_=examples.mylab.loss.focal +loss.gamma=2
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def focal(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    log_p = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return (-(1 - log_p.exp()) ** gamma * log_p).mean()
