"""Build a run from the composed config and train it: `run(cfg)`.

Order matters and is the same as MMCV's runner set-up: validate the whole config, import
`custom_imports`, seed, build data and model, the optimizer (paramwise groups), the
schedule; resume if there is a checkpoint; then the loop.
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Optional

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from optkit import checkpoint, distributed, resume, validate
from optkit.averaging import hooks as averaging_hooks
from optkit.batch_augment import BatchAugments, check_augments
from optkit.data import DataSource
from optkit.errors import ConfigError
from optkit.grad import GradStep, warn_batchnorm
from optkit.host_memory import keep_freed_memory
from optkit.instantiate import instantiate_at
from optkit.load_from import load_weights
from optkit.logging import RunLogger, summary_line
from optkit.loop import Progress, Run, fit, training_inputs
from optkit.loss import build_loss
from optkit.models.build import build_model
from optkit.multipass import step_class
from optkit.optim import auto_scale_lr, build_optimizer, describe_param_groups, kernel
from optkit.plan import WindowPlan, epoch_slices, make_timeline
from optkit.preempt import StopRequest
from optkit.pruning import TrialPruning
from optkit.schedule import Plateau, PlateauTracker, Schedule, Scheduler, Timeline
from optkit.schedule.build import build_schedule


def pick_device(requested: str, info: distributed.DistInfo) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("trainer.device", "CUDA is not available on this machine", requested, ["cpu", "auto"])
        return torch.device(f"cuda:{info.local_rank}" if requested == "cuda" else requested)
    return torch.device(requested)


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def amp_setup(amp: Optional[str], device: torch.device) -> tuple[Callable[[], ContextManager], Optional[torch.amp.GradScaler]]:
    """autocast factory and GradScaler for `trainer.amp` (fp16 needs CUDA and a scaler; bf16 neither)."""
    if amp is None:
        import contextlib

        return contextlib.nullcontext, None
    validate.check_amp_device(amp, device.type)
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
    return (lambda: torch.autocast(device.type, dtype=dtype)), scaler


def output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def run(cfg: DictConfig, run_dir: Optional[Path] = None) -> float:
    """Train; return the best value of `trainer.monitor` (what a sweeper optimises)."""
    started = time.perf_counter()
    validate.check(cfg)
    info = distributed.detect()
    device = pick_device(cfg.trainer.device, info)
    built = build_components(cfg, info, device)
    if cfg.trainer.dry_run:
        print(dry_run_report(cfg, built, info.world_size))
        return float("nan")

    run_dir = Path(run_dir) if run_dir is not None else output_dir()
    distributed.init(info)
    progress = Progress()
    found = resume.find(cfg.trainer.resume, run_dir)
    if found is not None:
        resume.check_config(found, cfg, built.timeline, built.optimizer.param_groups)
        progress = resume.restore(found, built.model, built.optimizer, built.scaler, cfg)
        if progress.step >= built.windows.max_steps:  # a finished job of a sweep run again
            if info.is_main:
                print(f"resumed from {found[0]} at step {progress.step} (epoch {progress.epoch}): this run is "
                      "finished; nothing to do", flush=True)
            distributed.shutdown(info)
            return float("nan") if progress.best is None else progress.best
    loaded = load_weights(built.model, cfg.trainer.load_from, cfg.trainer.load_strict) if (
        found is None and cfg.trainer.load_from is not None) else None
    warn_batchnorm(built.model, cfg.grad.accumulate)
    if cfg.trainer.compile:
        built.model.compile()  # in place: state_dict and parameter names keep their keys
    model = distributed.wrap(built.model, info, device)
    logger = RunLogger(run_dir, enabled=info.is_main, tensorboard=cfg.logging.tensorboard,
                       progress=cfg.logging.progress, total_steps=built.windows.max_steps, initial_step=progress.step)
    if found is not None:
        logger.message(f"resumed from {found[0]} at step {progress.step} (epoch {progress.epoch})")
    if loaded is not None:
        logger.message(loaded)
    logger.event("start", progress.step, resumed_from=None if found is None else str(found[0]),
                 cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"))
    scheduler = Scheduler(built.optimizer, built.schedule)
    plateau = (PlateauTracker(built.schedule.lr_policy, scheduler) if isinstance(built.schedule.lr_policy, Plateau)
               else None)
    averaging, scheduler = averaging_hooks.build(
        instantiate_at("ema", cfg.ema) if cfg.ema is not None else None,
        instantiate_at("swa", cfg.swa) if cfg.swa is not None else None,
        built.model, built.optimizer, scheduler, built.timeline.iters_per_epoch,
        lambda: training_inputs(loop_run, 0), built.autocast)
    if found is not None:
        resume.restore_averaging(found, averaging)
    save = checkpoint.Checkpointer(run_dir, built.model, built.optimizer, built.scaler,
                                   OmegaConf.to_container(cfg, resolve=True), enabled=info.is_main,
                                   averaging=averaging)
    loop_run = Run(
        model=model, data=built.data, grad_step=build_grad_step(cfg, model, built.optimizer, built.scaler,
                                                                built.autocast),
        scheduler=scheduler, windows=built.windows, logger=logger, dist=info,
        val_batch_size=cfg.data.val_batch_size, shuffle=cfg.data.shuffle, seed=cfg.trainer.seed,
        log_every=cfg.logging.log_every, eval_every=cfg.trainer.eval_every,
        ckpt_every=cfg.trainer.ckpt_every, ckpt_by_epoch=cfg.trainer.ckpt_by_epoch, autocast=built.autocast,
        checkpoint=save, group_names=built.group_names, nonfinite=cfg.trainer.nonfinite,
        max_nonfinite=cfg.trainer.max_nonfinite, stop=StopRequest(info.world_size).install(), averaging=averaging,
        plateau=plateau, pruning=TrialPruning.from_environment(info),
        train_batch=built.train_batch, monitor=cfg.trainer.monitor, monitor_mode=cfg.trainer.monitor_mode,
    )
    try:
        progress = fit(loop_run, progress)
        logger.hparams(cfg, {"val/acc": progress.last_val.get("val/acc", float("nan"))})
        if progress.step >= built.windows.max_steps:  # else an Optuna pruner stopped it ("pruned" event)
            logger.event("done", progress.step)
        logger.finish(progress.step, summary_line(run_dir, cfg.trainer.monitor, progress.best, progress.best_epoch,
                                                  time.perf_counter() - started))
    finally:
        loop_run.stop.restore()
        logger.close()
    distributed.shutdown(info)
    return float("nan") if progress.best is None else progress.best


def dry_run_report(cfg: DictConfig, built: "Components", world_size: int = 1) -> str:
    """`trainer.dry_run=true`: the optimizer, its step kernel, the lr scaling (auto_scale_lr),
    the param-group table and the run length."""
    optimizer, timeline = built.optimizer, built.timeline
    unit = "micro-batches" if cfg.grad.remainder == "mmcv" else "steps"
    asked = ", ".join(f"optimizer.{k}={json.dumps(cfg.optimizer[k])}" for k in ("fused", "foreach")
                      if k in cfg.optimizer)
    return "\n".join([
        f"optimizer: {type(optimizer).__name__}, step kernel: {kernel(optimizer)}"
        f"{f' ({asked})' if asked else ''}; constructor: {cfg.optimizer_constructor._target_}",
        *filter(None, [auto_scale_lr.describe(cfg, world_size)]),
        describe_param_groups(optimizer.param_groups, built.model),
        f"{timeline.iters_per_epoch} {unit}/epoch, {timeline.max_iters} {unit}, {built.windows.max_steps} optimizer steps",
    ])


@dataclass
class Components:
    """What a run trains with, built from the config. `run` and the lr range test
    (`optkit.lr_find`) both build it here, so the test trains exactly what training would."""

    data: DataSource
    model: nn.Module
    optimizer: torch.optim.Optimizer
    group_names: list[str]
    timeline: Timeline
    schedule: Schedule
    windows: WindowPlan
    autocast: Callable[[], ContextManager]
    scaler: Optional[torch.amp.GradScaler]
    train_batch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # with `augments` applied


def build_components(cfg: DictConfig, info: distributed.DistInfo, device: torch.device) -> Components:
    """AMP, seed, data, model, optimizer (paramwise groups), schedule and accumulation
    windows, in MMCV's runner order (the config is validated before)."""
    keep_freed_memory()  # before the data's workers fork: they inherit it
    autocast, scaler = amp_setup(cfg.trainer.amp, device)
    seed_everything(cfg.trainer.seed, cfg.trainer.deterministic)

    data = instantiate_at("data", cfg.data).to(device)
    model = build_model(cfg.model, data.info()).to(device)
    optimizer = build_optimizer(model, cfg, info.world_size)
    group_names = [group.get("name", f"group{i}") for i, group in enumerate(optimizer.param_groups)]
    timeline = make_timeline(cfg, len(data.train), info)
    schedule = build_schedule(cfg, timeline)
    windows = WindowPlan(tuple(epoch_slices(cfg, len(data.train), info)), cfg.grad.accumulate,
                         cfg.grad.remainder, timeline.max_iters)
    augments = check_augments(cfg.augments, data.in_shape)
    train_batch = BatchAugments(augments, data.num_classes, data.train_batch) if augments else data.train_batch
    return Components(data, model, optimizer, group_names, timeline, schedule, windows, autocast, scaler,
                      train_batch)


def build_grad_step(cfg: DictConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scaler: Optional[torch.amp.GradScaler], autocast: Callable[[], ContextManager],
                    check_finite: bool = True) -> GradStep:
    """The optimizer step `grad.*` asks for: the `loss`, clipping, AMP scaling, and
    (training) the non-finite check; a closure optimizer's or SAM's own kind of step."""
    clip = cfg.grad.clip
    return step_class(optimizer)(
        model, optimizer, build_loss(cfg.loss),
        max_norm=None if clip is None else clip.max_norm,
        norm_type=2.0 if clip is None else clip.norm_type,
        clip_value=cfg.grad.clip_value, scaler=scaler, autocast=autocast, check_finite=check_finite,
    )
