from __future__ import annotations

import torch

from optkit.errors import ConfigError


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    """(train, val) sample counts of `seeded_split` (known without loading anything)."""
    if not 0 < val_fraction < 1:
        raise ConfigError("data.val_fraction", "must be in (0, 1)", val_fraction)
    n_val = max(1, round(n * val_fraction))
    return n - n_val, n_val


def seeded_split(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed train/val split of n samples: the permutation depends on `seed` only."""
    n_val = split_sizes(n, val_fraction)[1]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_val:], order[:n_val]


def standardise(train: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Subtract the training split's per-feature mean, divide by the centred split's std."""
    mean = train.mean(dim=0, keepdim=True)
    std = (train - mean).std().clamp_min(1e-6)
    return tuple((t - mean) / std for t in (train, *others))
