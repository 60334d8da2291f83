"""What the training loop asks of weight averaging, at four places: after each optimizer
step, at the start and end of an epoch, and when it validates and saves.

`Averaging` (no averaging) is the default; `EmaAveraging` and `SwaAveraging` hold the
average. Validation evaluates `eval_models`: the averaged weights as `val/*` (what best.pt and
a sweep's value follow) and the raw model as `val_raw/*`.
"""
from __future__ import annotations

from typing import Any, Callable, ContextManager, Iterable, Optional

import torch
from torch import nn

from optkit.averaging.model_ema import EmaPolicy, ModelEma
from optkit.averaging.swa import Swa
from optkit.averaging.swa_state import HeldScheduler, SwaState


class Averaging:
    """No averaging: validation and checkpoints see the model as it is."""

    key: Optional[str] = None  # the checkpoint entry holding the average

    def begin_epoch(self, epoch: int) -> None:
        pass

    def after_step(self, step: int) -> None:
        pass

    def end_epoch(self, epoch: int) -> None:
        pass

    def eval_models(self, model: nn.Module, last: bool) -> dict[str, nn.Module]:
        return {"val": model}

    def finish(self, model: nn.Module) -> None:
        """At the run's end, after the final validation and before the final checkpoint."""

    def state_dict(self) -> Any:
        return None

    def load_state_dict(self, state: Any) -> None:
        pass


class EmaAveraging(Averaging):
    """Model EMA: updated after every optimizer step the policy picks; validated every time.
    Checkpoints hold its weights as a model state_dict under `ema`."""

    key = "ema"

    def __init__(self, model: nn.Module, policy: EmaPolicy) -> None:
        self.ema = ModelEma(model, policy)

    def after_step(self, step: int) -> None:
        self.ema.update(step)

    def eval_models(self, model: nn.Module, last: bool) -> dict[str, nn.Module]:
        self.ema.sync_buffers()
        return {"val": self.ema.module, "val_raw": model}

    def state_dict(self) -> Any:
        self.ema.sync_buffers()
        return self.ema.state_dict()

    def load_state_dict(self, state: Any) -> None:
        self.ema.load_state_dict(state)


class SwaAveraging(Averaging):
    """SWA: averaged at epoch ends from `start_epoch`; validated (with recomputed BatchNorm
    statistics) at the run's end, when its weights replace the model's, so the final
    last.pt and best.pt hold them. Checkpoints hold the average and SWALR's state under `swa`."""

    key = "swa"

    def __init__(self, state: SwaState) -> None:
        self.swa = state

    def begin_epoch(self, epoch: int) -> None:
        self.swa.begin_epoch(epoch)

    def end_epoch(self, epoch: int) -> None:
        self.swa.end_epoch(epoch)

    def eval_models(self, model: nn.Module, last: bool) -> dict[str, nn.Module]:
        if not (last and self.swa.started):
            return {"val": model}
        self.swa.finish()
        return {"val": self.swa.averaged.module, "val_raw": model}

    def finish(self, model: nn.Module) -> None:
        if self.swa.started:
            model.load_state_dict(self.swa.averaged.module.state_dict())

    def state_dict(self) -> Any:
        return self.swa.state_dict()

    def load_state_dict(self, state: Any) -> None:
        self.swa.load_state_dict(state)


def build(ema: Optional[EmaPolicy], swa: Optional[Swa], model: nn.Module, optimizer: torch.optim.Optimizer,
          scheduler: Any, iters_per_epoch: int, bn_batches: Callable[[], Iterable[torch.Tensor]],
          autocast: Callable[[], ContextManager]) -> tuple[Averaging, Any]:
    """The run's averaging and the scheduler the loop applies (SWA with `swa.lr` holds the
    schedule from its start epoch on). `model` is the unwrapped model."""
    if ema is not None:
        return EmaAveraging(model, ema), scheduler
    if swa is None:
        return Averaging(), scheduler
    averaging = SwaAveraging(SwaState(model, optimizer, swa, bn_batches, autocast))
    if swa.lr is not None:
        scheduler = HeldScheduler(scheduler, swa.start_epoch * iters_per_epoch)
    return averaging, scheduler
