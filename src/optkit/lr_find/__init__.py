"""The lr range test (`python scripts/lr_find.py`, `optkit-lr-find`), in three parts:
`algorithm` (the lr ramp, smoothing, stop rule and suggestions: pure), `runner` (builds the
run as training does and runs the test on it, restoring every state) and `cli` (the tool's
arguments, output and `main`). The names below are the package's public API.
"""
from optkit.lr_find.algorithm import MODES, SKIP_START, Curve, RangeTest, SmoothedLoss, lr_ramp, steepest_descent
from optkit.lr_find.cli import TOOL_ARGS, USAGE, main
from optkit.lr_find.runner import Result, find_lr, group_ratios, lr_key, range_test, restored, training_windows

__all__ = [
    "MODES",
    "SKIP_START",
    "TOOL_ARGS",
    "USAGE",
    "Curve",
    "RangeTest",
    "Result",
    "SmoothedLoss",
    "find_lr",
    "group_ratios",
    "lr_key",
    "lr_ramp",
    "main",
    "range_test",
    "restored",
    "steepest_descent",
    "training_windows",
]
