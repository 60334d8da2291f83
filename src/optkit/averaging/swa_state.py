"""The SWA average, its lr scheduler and the final BatchNorm pass (torch.optim.swa_utils)."""
from __future__ import annotations

from typing import Any, Callable, ContextManager, Iterable, Optional

import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn

from optkit.averaging.swa import Swa


class SwaState:
    """`AveragedModel` of the (unwrapped) model and, once epoch `start_epoch` begins, SWALR.

    `bn_batches()` yields training inputs through the training data path; the final
    `update_bn` runs under `autocast` like training. Under DDP the averaged parameters are
    equal on every rank, and the recomputed BatchNorm statistics are rank 0's everywhere.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, policy: Swa,
                 bn_batches: Callable[[], Iterable[torch.Tensor]], autocast: Callable[[], ContextManager]) -> None:
        self.model, self.optimizer, self.policy = model, optimizer, policy
        self.averaged = AveragedModel(model)
        self.bn_batches, self.autocast = bn_batches, autocast
        self.swalr: Optional[SWALR] = None
        self._pending: Optional[dict[str, Any]] = None  # a resumed SWALR's state, loaded when it is built

    def begin_epoch(self, epoch: int) -> None:
        if epoch < self.policy.start_epoch or self.policy.lr is None or self.swalr is not None:
            return
        self.swalr = SWALR(self.optimizer, swa_lr=self.policy.lr, anneal_epochs=self.policy.anneal_epochs,
                           anneal_strategy=self.policy.anneal_strategy)
        if self._pending is not None:
            self.swalr.load_state_dict(self._pending)
            self._pending = None

    def end_epoch(self, epoch: int) -> None:
        """After the last step of `epoch` (0-based; the run's last, possibly partial, epoch too)."""
        if epoch < self.policy.start_epoch:
            return
        self.averaged.update_parameters(self.model)
        if self.swalr is not None:
            self.swalr.step()

    @property
    def started(self) -> bool:
        return int(self.averaged.n_averaged) > 0

    def finish(self) -> None:
        """BatchNorm statistics of the averaged weights, recomputed over the training batches."""
        if not self.policy.bn_update or not self.started:
            return
        with self.autocast():
            update_bn(self.bn_batches(), self.averaged.module)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            for buffer in self.averaged.module.buffers():
                torch.distributed.broadcast(buffer, src=0)

    def state_dict(self) -> dict[str, Any]:
        swalr = self.swalr.state_dict() if self.swalr is not None else self._pending
        return {"averaged": self.averaged.state_dict(), "swalr": swalr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.averaged.load_state_dict(state["averaged"])
        self._pending = state["swalr"]


class HeldScheduler:
    """The run's scheduler until schedule step `stop` (the first step of SWA's start epoch);
    from there on SWALR sets the lr, once per epoch, as in torch's SWA recipe."""

    def __init__(self, scheduler: Any, stop: int) -> None:
        self.scheduler, self.stop = scheduler, stop

    @property
    def keys(self) -> Any:
        """The scheduled group keys (what the loop logs)."""
        return self.scheduler.keys

    def apply(self, step: int) -> None:
        if step < self.stop:
            self.scheduler.apply(step)
