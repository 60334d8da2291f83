"""What MMCV 1.7.2 calls things, and the defaults it gives them.

These tables are what the importer knows about MMCV without importing it;
`tests/test_from_mmcv_mmcv.py` checks them against MMCV 1.7.2 itself (the hooks' effective
defaults and registries, recorded by `scripts/mmcv_reference/config_import.py`).
"""
from __future__ import annotations

REQUIRED = "<required>"  # an argument without a default: MMCV fails when it is missing

# Hook name without the `LrUpdaterHook` suffix → (optkit schedule option, the hook's own
# arguments with their defaults). Every lr hook also takes LR_HOOK_BASE.
LR_HOOK_BASE = {"by_epoch": True, "warmup": None, "warmup_iters": 0, "warmup_ratio": 0.1, "warmup_by_epoch": False}
ANNEAL_TARGET = {"min_lr": None, "min_lr_ratio": None}  # exactly one of the two (MMCV asserts)
LR_HOOKS = {
    "Fixed": ("fixed", {}),
    "Step": ("step", {"step": REQUIRED, "gamma": 0.1, "min_lr": None}),
    "Exp": ("exp", {"gamma": REQUIRED}),
    "Poly": ("poly", {"power": 1.0, "min_lr": 0.0}),
    "Inv": ("inv", {"gamma": REQUIRED, "power": 1.0}),
    "CosineAnnealing": ("cosine", ANNEAL_TARGET),
    "FlatCosineAnnealing": ("flat_cosine", {"start_percent": 0.75, **ANNEAL_TARGET}),
    "CosineRestart": ("cosine_restart", {"periods": REQUIRED, "restart_weights": [1], **ANNEAL_TARGET}),
    "Cyclic": ("cyclic", {"by_epoch": False, "target_ratio": [10, 1e-4], "cyclic_times": 1, "step_ratio_up": 0.4,
                          "anneal_strategy": "cos", "gamma": 1}),
    "OneCycle": ("onecycle", {"by_epoch": False, "max_lr": REQUIRED, "total_steps": None, "pct_start": 0.3,
                              "anneal_strategy": "cos", "div_factor": 25, "final_div_factor": 1e4,
                              "three_phase": False}),
    "LinearAnnealing": ("linear", ANNEAL_TARGET),
}

# The same for `momentum_config` (suffix `MomentumUpdaterHook`); no warmup_by_epoch here.
MOMENTUM_HOOK_BASE = {"by_epoch": True, "warmup": None, "warmup_iters": 0, "warmup_ratio": 0.9}
MOMENTUM_TARGET = {"min_momentum": None, "min_momentum_ratio": None}
MOMENTUM_HOOKS = {
    "Step": ("step", {"step": REQUIRED, "gamma": 0.5, "min_momentum": None}),
    "CosineAnnealing": ("cosine", MOMENTUM_TARGET),
    "LinearAnnealing": ("linear", MOMENTUM_TARGET),
    "Cyclic": ("cyclic", {"by_epoch": False, "target_ratio": [0.85 / 0.95, 1.0], "cyclic_times": 1,
                          "step_ratio_up": 0.4, "anneal_strategy": "cos", "gamma": 1.0}),
    "OneCycle": ("onecycle", {"by_epoch": False, "base_momentum": 0.85, "max_momentum": 0.95, "pct_start": 0.3,
                              "anneal_strategy": "cos", "three_phase": False}),
}

# `optimizer_config.type` → the hook's arguments with their defaults.
OPTIMIZER_HOOK_BASE = {"grad_clip": None, "detect_anomalous_params": False}
FP16_ARGS = {"coalesce": True, "bucket_size_mb": -1, "loss_scale": 512.0, "distributed": True}
OPTIMIZER_HOOKS = {
    "OptimizerHook": OPTIMIZER_HOOK_BASE,
    "GradientCumulativeOptimizerHook": {**OPTIMIZER_HOOK_BASE, "cumulative_iters": 1},
    "Fp16OptimizerHook": {**OPTIMIZER_HOOK_BASE, **FP16_ARGS},
    "GradientCumulativeFp16OptimizerHook": {**OPTIMIZER_HOOK_BASE, **FP16_ARGS, "cumulative_iters": 1},
}

DEFAULT_CONSTRUCTOR = "DefaultOptimizerConstructor"
RUNNERS = {"EpochBasedRunner": "max_epochs", "IterBasedRunner": "max_iters"}
WARMUP_KINDS = ("constant", "linear", "exp")


def hook_name(policy: str) -> str:
    """MMCV's capitalisation of `policy`: an all-lowercase name goes through `str.title()`
    (`step` → `Step`, `cosineannealing` → `Cosineannealing`, which no hook has); any other
    is used as written (`CosineAnnealing`)."""
    return policy.title() if policy == policy.lower() else policy
