"""Stochastic Weight Averaging settings (Izmailov et al. 2018), as torch's
`torch.optim.swa_utils` recipe runs it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from optkit.averaging.ema import check_count
from optkit.errors import ConfigError

ANNEAL = ("cos", "linear")


@dataclass
class Swa:
    """torch's SWA recipe: train with the schedule until epoch `start_epoch` (0-based); from
    then on `AveragedModel.update_parameters(model)` at the end of every epoch (and at the
    run's end), and, when `lr` is set, `SWALR(optimizer, swa_lr=lr, anneal_epochs,
    anneal_strategy)` instead of the schedule, stepped after each averaged epoch. At the end
    BatchNorm statistics are recomputed for the averaged weights (`update_bn`) over an epoch
    of training micro-batches, and those weights become the model that is validated and
    saved."""

    start_epoch: int = 0  # the first epoch whose end is averaged
    lr: Optional[float] = 0.05  # SWALR's swa_lr (torch's example); null: the schedule goes on
    anneal_epochs: int = 10  # SWALR default
    anneal_strategy: str = "cos"  # cos | linear (SWALR)
    bn_update: bool = True  # recompute BatchNorm statistics for the averaged weights at the end

    def __post_init__(self) -> None:
        check_count("start_epoch", self.start_epoch, 0)
        check_count("anneal_epochs", self.anneal_epochs, 0)
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError("lr", "must be > 0 (or null: the schedule goes on)", self.lr)
        if self.anneal_strategy not in ANNEAL:
            raise ConfigError("anneal_strategy", "unknown value", self.anneal_strategy, ANNEAL)
