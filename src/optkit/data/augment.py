from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """Random crop of the zero-padded image back to its size, then a random horizontal flip.

    One batched gather on the device instead of a per-image Python loop.
    """
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy).expand(n, h, w)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx
    flip = torch.rand(n, 1, 1, device=x.device) < 0.5
    cols = torch.where(flip, cols.flip(-1), cols).expand(n, h, w)
    index = (rows * padded.shape[-1] + cols).unsqueeze(1).expand(-1, x.shape[1], -1, -1)
    return padded.flatten(2).gather(2, index.flatten(2)).view_as(x)
