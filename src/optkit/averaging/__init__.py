"""Weight averaging: model EMA (timm's ModelEmaV3, MMCV's EMAHook) and SWA (torch.optim.swa_utils).

The settings classes here import no torch (`optkit.config` derives the `ema` and `swa`
schemas from them); `optkit.averaging.hooks` builds what the loop calls.
"""
from optkit.averaging.ema import Ema, MmcvEma
from optkit.averaging.swa import Swa

EMA_POLICIES = {"ema": Ema, "mmcv": MmcvEma}

__all__ = ["EMA_POLICIES", "Ema", "MmcvEma", "Swa"]
