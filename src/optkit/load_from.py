"""`trainer.load_from`: start from the weights of a file (MMCV's `load_from`).

The file is read with `weights_only=True` (opening it never runs code) and may hold a bare
state_dict, an optkit checkpoint (its `model`) or an MMCV checkpoint (its `state_dict`);
prefixes that wrapping adds (`module.` from DDP, `_orig_mod.` from `torch.compile`) are
dropped. Only the weights are taken: the optimizer, schedule and progress start afresh.
With `trainer.load_strict=false`, keys that do not match are left at their initial values
and listed in the one-line report; shapes that differ are an error either way. A run that
resumes (`trainer.resume`) ignores `load_from`: its checkpoint holds newer weights.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from optkit import checkpoint
from optkit.errors import CheckpointError, ConfigError

PREFIXES = ("module.", "_orig_mod.")
LISTED = 3


def weights_in(state: Any) -> dict[str, torch.Tensor]:
    """The state_dict inside a loaded file, wrapper prefixes dropped."""
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("trainer.load_from: holds no state_dict (a dict of tensors, an optkit or MMCV checkpoint)")
    weights = {}
    for name, value in state.items():
        for prefix in PREFIXES:
            while name.startswith(prefix):
                name = name[len(prefix):]
        weights[name] = value
    return weights


def listed(keys: list[str]) -> str:
    more = len(keys) - LISTED
    return ", ".join(keys[:LISTED]) + (f" and {more} more" if more > 0 else "")


def load_weights(model: nn.Module, path: str, strict: bool) -> str:
    """Load `path`'s weights into `model`; return the one-line report."""
    weights = weights_in(checkpoint.load(Path(path)))
    own = model.state_dict()
    wrong = [f"{k} {list(v.shape)} vs {list(own[k].shape)}" for k, v in weights.items() if k in own and v.shape != own[k].shape]
    if wrong:
        raise ConfigError("trainer.load_from", f"{path}: shapes differ from the model's: {listed(wrong)}")
    missing = sorted(own.keys() - weights.keys())
    unexpected = sorted(weights.keys() - own.keys())
    if strict and (missing or unexpected):
        raise ConfigError("trainer.load_from", f"{path} does not fit the model: missing {listed(missing) or 'none'}; "
                          f"unexpected {listed(unexpected) or 'none'} (trainer.load_strict=false loads what fits)")
    model.load_state_dict(weights, strict=False)
    return (f"load_from {path}: {len(weights) - len(unexpected)} tensors loaded; missing {len(missing)}"
            f"{f' ({listed(missing)})' if missing else ''}; unexpected {len(unexpected)}"
            f"{f' ({listed(unexpected)})' if unexpected else ''}")
