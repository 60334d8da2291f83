"""The lr range test: `python scripts/lr_find.py [overrides] [num_iters=100 min_lr=1e-7
max_lr=10 mode=exp|linear smooth=0.98 diverge=4 out=lr_find.png json=PATH.json]` (also
`optkit-lr-find`). L. N. Smith, "Cyclical Learning Rates for Training Neural Networks" (2017),
§3.3; the smoothing, stop rule and suggestions follow fastai's and Lightning's lr finders.

The config is composed and checked as train.py composes it (same overrides, same one-line
errors, exit 2); the arguments above are the tool's own. Data, model, optimizer (paramwise
groups), AMP, clipping and accumulation come from `optkit.train.build_components` and
`build_grad_step`, so the test trains exactly what training would. It starts from the
configured state: a fresh init, or the checkpoint of `trainer.resume=PATH` (`auto` means a
fresh init: the tool has no run directory to look in), with the data order from the start of
the checkpoint's epoch. Then `num_iters` optimizer steps, the base lr rising

    exp:     lr_i = min_lr · (max_lr / min_lr)^(i / (N − 1))
    linear:  lr_i = min_lr + (max_lr − min_lr) · i / (N − 1)

one value per optimizer step (the micro-batches of a `grad.accumulate` window share it). Each
param group gets `lr_i · initial_lr_g / optimizer.lr`, its paramwise multiplier, so groups
keep their ratios and the suggestion is a value for `optimizer.lr`. The schedule, warmup and
momentum policy are not applied: momentum stays as configured.

Loss: each step's loss as training logs it (the window's weighted mean), smoothed by a
bias-corrected exponential moving average, `a_i = β a_{i−1} + (1 − β) x_i`,
`s_i = a_i / (1 − β^{i+1})`. The test stops at the first step with `s_i > diverge · min_{j<i} s_j`
or a loss that is not finite. Suggestions: the steepest descent of `s` against log(lr), searched
after the first tenth of the steps and before the minimum of `s` (where the loss is falling);
and the lr of that minimum / 10 (fastai's `lr_min`).

Host syncs: the losses stay on the device; every `logging.log_every` steps (and at the end)
they are read in one `.tolist()`, the only sync beyond the training step's own, then smoothed
and checked for divergence. Up to `log_every − 1` steps may so run past the divergence; they
are dropped, and the curve does not depend on `log_every`.

Nothing on disk changes but the PNG and the JSON, and `range_test` puts the model, optimizer,
GradScaler, train/eval flags and RNGs back as they were (`restored`).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

import numpy as np

from optkit.errors import ConfigError, exit_config_error

if TYPE_CHECKING:  # torch is imported when the test runs, not for --help or a bad argument
    import torch
    from omegaconf import DictConfig
    from torch import nn

    from optkit.data import DataSource
    from optkit.grad import GradStep, Window, WindowPlan

TOOL_ARGS = ("num_iters", "min_lr", "max_lr", "mode", "smooth", "diverge", "out", "json")
USAGE = ("usage: lr_find.py [hydra overrides] num_iters=100 min_lr=1e-7 max_lr=10 mode=exp|linear "
         "smooth=0.98 diverge=4 out=lr_find.png json=PATH.json")
MODES = ("exp", "linear")
SKIP_START = 0.1  # the slope search skips this fraction of the steps: the smoothed curve starts on few losses


@dataclass(frozen=True)
class RangeTest:
    """The test's settings (the tool's arguments, not config keys)."""

    num_iters: int = 100  # optimizer steps
    min_lr: float = 1e-7  # base lr of the first step
    max_lr: float = 10.0  # base lr of the last step
    mode: str = "exp"  # exp: evenly spaced in log(lr); linear: in lr
    smooth: float = 0.98  # β of the loss's moving average (0: no smoothing)
    diverge: float = 4.0  # stop once the smoothed loss exceeds this × its minimum

    def __post_init__(self) -> None:
        if self.num_iters < 2:
            raise ConfigError("num_iters", "must be an int >= 2", self.num_iters)
        if not 0 < self.min_lr < self.max_lr:
            raise ConfigError("min_lr", f"must be > 0 and below max_lr={self.max_lr:g}", self.min_lr)
        if self.mode not in MODES:
            raise ConfigError("mode", "unknown ramp", self.mode, MODES)
        if not 0 <= self.smooth < 1:
            raise ConfigError("smooth", "must be in [0, 1)", self.smooth)
        if not self.diverge > 1:
            raise ConfigError("diverge", "must be > 1", self.diverge)

    @classmethod
    def from_args(cls, tool: dict[str, str]) -> "RangeTest":
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in tool:
                continue
            text = tool[f.name]
            kind = {"int": (int, "an int"), "float": (float, "a number")}.get(str(f.type))
            try:
                kwargs[f.name] = text if kind is None else kind[0](text)
            except ValueError:
                raise ConfigError(f.name, f"must be {kind[1]}", text) from None
        return cls(**kwargs)

    def lrs(self) -> np.ndarray:
        return lr_ramp(self.min_lr, self.max_lr, self.num_iters, self.mode)


def lr_ramp(min_lr: float, max_lr: float, n: int, mode: str) -> np.ndarray:
    """The base lr of each of `n` steps, from `min_lr` to `max_lr` inclusive."""
    frac = np.arange(n) / (n - 1)
    if mode == "exp":
        return min_lr * (max_lr / min_lr) ** frac
    return min_lr + (max_lr - min_lr) * frac


class SmoothedLoss:
    """The bias-corrected moving average of the losses so far and the stop rule."""

    def __init__(self, beta: float, diverge: float) -> None:
        self.beta = beta
        self.diverge = diverge
        self.values: list[float] = []
        self.avg = 0.0
        self.best = math.inf

    def add(self, loss: float) -> bool:
        """Smooth one more loss; True when the test has diverged."""
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        value = self.avg / (1 - self.beta ** (len(self.values) + 1))
        self.values.append(value)
        if not math.isfinite(value) or value > self.diverge * self.best:
            return True
        self.best = min(self.best, value)
        return False


def steepest_descent(lrs: np.ndarray, smoothed: np.ndarray) -> Optional[int]:
    """The step where the smoothed loss falls fastest against log(lr), between the first
    `SKIP_START` of the steps and the smoothed minimum; None when it never fell there."""
    if not np.isfinite(smoothed).any():
        return None
    low = int(len(smoothed) * SKIP_START)
    high = int(np.nanargmin(smoothed))
    if high - low < 2:
        return None
    slope = np.gradient(smoothed[low : high + 1], np.log(lrs[low : high + 1]))
    return low + int(np.argmin(slope))


@dataclass
class Curve:
    """What the test recorded: one entry per step run (the diverging step last, if any)."""

    lr: np.ndarray  # base lr (optimizer.lr) of each step
    loss: np.ndarray
    smoothed: np.ndarray
    stopped_at: Optional[int]  # the step that diverged; None when all num_iters ran
    seconds: float  # wall time of the steps, the final read included

    @property
    def suggestion(self) -> Optional[int]:
        return steepest_descent(self.lr, self.smoothed)

    @property
    def min_loss_lr(self) -> float:
        """The lr where the smoothed loss is smallest (nan when no loss was finite)."""
        if not np.isfinite(self.smoothed).any():
            return math.nan
        return float(self.lr[np.nanargmin(self.smoothed)])


def group_ratios(groups: Sequence[dict[str, Any]], base_lr: Optional[float]) -> list[float]:
    """Each group's paramwise lr multiplier: its base lr (`initial_lr`, kept by the scheduler
    through a schedule, else `lr`) over `optimizer.lr`."""
    if base_lr is None or not base_lr > 0:
        raise ConfigError("optimizer.lr", "must be > 0 for the lr range test (the groups' multipliers "
                          "are their lr / optimizer.lr)", base_lr)
    return [group.get("initial_lr", group["lr"]) / base_lr for group in groups]


@contextlib.contextmanager
def restored(model: nn.Module, optimizer: torch.optim.Optimizer,
             scaler: Optional[torch.amp.GradScaler] = None) -> Iterator[None]:
    """Put back, whatever happens inside: weights and buffers, the optimizer's state and
    groups (lr included), the GradScaler, each module's train/eval flag and the RNGs. A
    state_dict round trip through deep copies on the same device: for its duration, a second
    copy of the model and the optimizer state."""
    from optkit import checkpoint

    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    scaler_state = None if scaler is None else copy.deepcopy(scaler.state_dict())
    modes = [module.training for module in model.modules()]
    rng = checkpoint.rng_state()
    try:
        yield
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        if scaler is not None:
            scaler.load_state_dict(scaler_state)
        for module, mode in zip(model.modules(), modes):
            module.training = mode
        checkpoint.set_rng_state(rng)


def range_test(model: nn.Module, grad_step: GradStep, windows: Iterator[Window],
               batch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], settings: RangeTest,
               ratios: Sequence[float], check_every: int) -> Curve:
    """Run the test with a built `GradStep` (its optimizer's groups get `lr_i · ratio`) over
    `windows`; model, optimizer and scaler are restored afterwards."""
    import torch

    optimizer = grad_step.optimizer
    lrs = settings.lrs()
    tracker = SmoothedLoss(settings.smooth, settings.diverge)
    losses: list[float] = []
    pending: list[torch.Tensor] = []
    stopped_at = None
    with restored(model, optimizer, grad_step.scaler):
        model.train()
        start = time.perf_counter()
        for i, window in zip(range(settings.num_iters), windows):
            for group, ratio in zip(optimizer.param_groups, ratios):
                group["lr"] = float(lrs[i]) * ratio
            pending.append(grad_step(window, batch).loss)
            if (i + 1) % check_every and i + 1 < settings.num_iters:
                continue
            for loss in torch.stack(pending).float().tolist():  # the interval's one host sync
                losses.append(loss)
                if tracker.add(loss):
                    stopped_at = len(losses) - 1
                    break
            pending.clear()
            if stopped_at is not None:
                break
        seconds = time.perf_counter() - start
    n = len(losses)
    return Curve(lrs[:n], np.array(losses), np.array(tracker.values), stopped_at, seconds)


def training_windows(plan: WindowPlan, data: DataSource, seed: int, shuffle: bool, first_epoch: int,
                     num_iters: int) -> Iterator[Window]:
    """Training's optimizer steps from the start of `first_epoch` on, as many as wanted. With
    `grad.remainder=mmcv` the run's end, whose last window MMCV rescales, is moved past the
    test's `num_iters` steps."""
    from optkit.data import epoch_order

    if plan.remainder == "mmcv":
        end = first_epoch * len(plan.slices) + (num_iters + 1) * plan.accumulate
        plan = dataclasses.replace(plan, max_iters=end)

    def order(e: int) -> torch.Tensor:
        return epoch_order(len(data.train), e, seed, shuffle).to(data.index_device)

    epoch = first_epoch
    while True:
        windows = plan.epoch(epoch, order)
        data.begin_epoch(epoch, windows, seed, 0)
        yield from windows
        epoch += 1


@dataclass
class Result:
    curve: Curve
    settings: RangeTest
    base_lr: float
    groups: list[tuple[str, float]]  # (name, lr multiplier)
    device: str
    start: str  # "fresh init" or the checkpoint's path


def find_lr(cfg: DictConfig, settings: RangeTest) -> Result:
    """The range test of a composed config: built as training builds it, from its state."""
    from optkit import distributed, resume, validate
    from optkit.loop import Progress
    from optkit.train import build_components, build_grad_step, pick_device

    validate.check(cfg)
    info = distributed.DistInfo()  # one process, whatever launched it
    device = pick_device(cfg.trainer.device, info)
    built = build_components(cfg, info, device)
    base_lr = cfg.optimizer.get("lr")
    ratios = group_ratios(built.optimizer.param_groups, base_lr)  # before a checkpoint's groups replace them
    progress, start = Progress(), "fresh init"
    if cfg.trainer.resume not in (None, "auto"):
        found = resume.find(cfg.trainer.resume, Path.cwd())
        progress, start = resume.restore(found, built.model, built.optimizer, built.scaler, cfg), str(found[0])
    # without training's non-finite check: divergence is what the test looks for, and it reads
    # its losses once per logging interval (the check would read every step)
    grad_step = build_grad_step(cfg, built.model, built.optimizer, built.scaler, built.autocast, check_finite=False)
    windows = training_windows(built.windows, built.data, cfg.trainer.seed, cfg.data.shuffle, progress.epoch,
                               settings.num_iters)
    curve = range_test(built.model, grad_step, windows, built.train_batch, settings, ratios,
                       cfg.logging.log_every)
    return Result(curve, settings, float(base_lr), list(zip(built.group_names, ratios)), str(device), start)


# --- output ---------------------------------------------------------------------------------


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
    ax.set_xlabel("lr (optimizer.lr; every param group keeps its multiplier)")
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


def check_output(key: str, path: Path) -> None:
    if not path.parent.is_dir():
        raise ConfigError(key, "no such directory", str(path.parent))


def main(argv: Optional[Sequence[str]] = None) -> None:
    from optkit.errors import warn
    from optkit.cli import compose
    from optkit.plot_lr import split_args

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE)
        return
    overrides, tool = split_args(argv, TOOL_ARGS)
    out = Path(tool.get("out", "lr_find.png"))
    try:
        settings = RangeTest.from_args(tool)
        check_output("out", out)
        if "json" in tool:
            check_output("json", Path(tool["json"]))
        cfg = compose(overrides)
        result = find_lr(cfg, settings)
    except ConfigError as err:
        exit_config_error(err)
    plot(result, out, describe(cfg, result))
    if "json" in tool:
        Path(tool["json"]).write_text(json.dumps(to_json(result)))
    print("\n".join(report(result)))
    print(f"wrote {out}" + (f" and {tool['json']}" if "json" in tool else ""))
    suggestion = result.curve.suggestion
    if suggestion is None:
        warn("the smoothed loss did not fall between min_lr and max_lr: no suggestion "
             "(try a lower min_lr, or more num_iters)")
        return
    lr = f"{result.curve.lr[suggestion]:.3g}"
    print(f"suggested lr: {lr} (override: optimizer.lr={lr})")
