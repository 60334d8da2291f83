"""The lr range test: `python scripts/lr_find.py [overrides] [num_iters=100 min_lr=1e-7
max_lr=10 mode=exp|linear smooth=0.98 diverge=4 out=lr_find.png json=PATH.json]` (also
`optkit-lr-find`). L. N. Smith, "Cyclical Learning Rates for Training Neural Networks" (2017),
§3.3; the smoothing, stop rule and suggestions follow fastai's and Lightning's lr finders.

The tool's own arguments (above) apart from the Hydra overrides, the composed and checked
config (same one-line errors as train.py, exit 2), the test (`optkit.lr_find.runner`), then
the PNG, the JSON and the printed suggestion.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from optkit.errors import check_output, entry_point, writing
from optkit.lr_find.algorithm import RangeTest
from optkit.lr_find.runner import Result, find_lr

if TYPE_CHECKING:
    from omegaconf import DictConfig

TOOL_ARGS = ("num_iters", "min_lr", "max_lr", "mode", "smooth", "diverge", "out", "json")
USAGE = ("usage: lr_find.py [hydra overrides] num_iters=100 min_lr=1e-7 max_lr=10 mode=exp|linear "
         "smooth=0.98 diverge=4 out=lr_find.png json=PATH.json")


def finite_or_none(values: np.ndarray) -> list[Optional[float]]:
    return [float(v) if math.isfinite(v) else None for v in values]


def to_json(result: Result) -> dict[str, Any]:
    curve, suggestion = result.curve, result.curve.suggestion
    return {
        **dataclasses.asdict(result.settings),
        "base_lr": result.base_lr,
        "groups": [{"name": name, "lr_mult": ratio} for name, ratio in result.groups],
        "device": result.device,
        "start": result.start,
        "lr": curve.lr.tolist(),
        "loss": finite_or_none(curve.loss),
        "smoothed_loss": finite_or_none(curve.smoothed),
        "stopped_at": curve.stopped_at,
        "seconds": curve.seconds,
        "suggestion": {
            "lr": None if suggestion is None else float(curve.lr[suggestion]),
            "step": suggestion,
            "min_loss_lr": curve.min_loss_lr,
            "min_loss_lr_div10": curve.min_loss_lr / 10,
        },
    }


def plot(result: Result, out: Path, title: str) -> None:
    """Loss (raw and smoothed) against lr on a log axis, the suggestions marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve, suggestion = result.curve, result.curve.suggestion
    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    ax.plot(curve.lr, curve.loss, color="0.7", linewidth=0.8, label="loss")
    ax.plot(curve.lr, curve.smoothed, color="C0", linewidth=1.8,
            label=f"smoothed (β={result.settings.smooth:g})")
    if suggestion is not None:
        lr = curve.lr[suggestion]
        ax.axvline(lr, color="C3", linestyle="--", linewidth=1)
        ax.plot([lr], [curve.smoothed[suggestion]], "o", color="C3", label=f"steepest descent: {lr:.3g}")
    ax.axvline(curve.min_loss_lr / 10, color="C2", linestyle=":", linewidth=1.2,
               label=f"min-loss lr / 10: {curve.min_loss_lr / 10:.3g}")
    finite = curve.smoothed[np.isfinite(curve.smoothed)]
    raw = curve.loss[np.isfinite(curve.loss)]
    if len(finite):
        ax.set_ylim(0.95 * min(finite.min(), raw.min()), 1.1 * finite.max())
    ax.set_xscale("log")
    ax.set_xlabel(f"lr ({result.lr_key}; every param group keeps its multiplier)")
    ax.set_ylabel("training loss")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(title, fontsize="medium")
    fig.savefig(out, dpi=110)
    plt.close(fig)


def describe(cfg: DictConfig, result: Result) -> str:
    from optkit.config import target_name

    curve = result.curve
    stop = f", stopped at step {curve.stopped_at}" if curve.stopped_at is not None else ""
    return (f"lr range test: {target_name(cfg.optimizer)}, {target_name(cfg.model)} on {target_name(cfg.data)}, "
            f"{len(curve.lr)} steps ({result.settings.mode}){stop}")


def report(result: Result) -> list[str]:
    curve, settings = result.curve, result.settings
    lines = [f"lr range test: {len(curve.lr)} of {settings.num_iters} steps, lr {settings.min_lr:g} -> "
             f"{settings.max_lr:g} ({settings.mode}), param groups: {len(result.groups)}, {result.device}, "
             f"from {result.start}: {curve.seconds:.2f} s"]
    if curve.stopped_at is not None:
        lines.append(f"stopped at step {curve.stopped_at} (lr {curve.lr[-1]:.3g}): the smoothed loss passed "
                     f"{settings.diverge:g}x its minimum")
    lines.append(f"min-loss lr / 10: {curve.min_loss_lr / 10:.3g}")
    return lines


@entry_point
def main(argv: Optional[Sequence[str]] = None) -> None:
    from optkit.errors import warn
    from optkit.compose import compose
    from optkit.plot_lr import split_args

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE)
        return
    overrides, tool = split_args(argv, TOOL_ARGS)
    settings = RangeTest.from_args(tool)
    out = check_output("out", tool.get("out", "lr_find.png"))
    json_out = check_output("json", tool.get("json"))
    cfg = compose(overrides)
    result = find_lr(cfg, settings)
    with writing(out):
        plot(result, out, describe(cfg, result))
    if json_out is not None:
        with writing(json_out):
            json_out.write_text(json.dumps(to_json(result)))
    print("\n".join(report(result)))
    print(f"wrote {out}" + (f" and {json_out}" if json_out is not None else ""))
    suggestion = result.curve.suggestion
    if suggestion is None:
        warn("the smoothed loss did not fall between min_lr and max_lr: no suggestion "
             "(try a lower min_lr, or more num_iters)")
        return
    lr = f"{result.curve.lr[suggestion]:.3g}"
    print(f"suggested lr: {lr} (override: {result.lr_key}={lr})")
