"""Build a run from the composed config and train it: `run(cfg)`.

Order matters and is the same as MMCV's runner set-up: validate the whole config, import
`custom_imports`, seed, build data and model, the optimizer (paramwise groups), the
schedule; resume if there is a checkpoint; then the loop.
"""
from __future__ import annotations

import math
import os
import random
from pathlib import Path
from typing import Any, Callable, ContextManager, Optional

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from optkit import checkpoint, distributed, validate
from optkit.data import batch_slices
from optkit.errors import ConfigError
from optkit.grad import GradStep, steps_per_epoch
from optkit.instantiate import instantiate_at
from optkit.logging import RunLogger
from optkit.loop import Progress, Run, fit
from optkit.optim import build_optimizer, describe_param_groups
from optkit.preempt import StopRequest
from optkit.schedule import Scheduler, Timeline
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
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("trainer.amp", "fp16 autocast needs a CUDA device; use bf16 on CPU", amp, ["bf16"])
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
    return (lambda: torch.autocast(device.type, dtype=dtype)), scaler


def make_timeline(cfg: DictConfig, n_train: int, info: distributed.DistInfo) -> Timeline:
    """Optimizer steps per epoch (this rank's micro-batches / accumulate) and in the run."""
    shard_len = math.ceil(n_train / info.world_size)
    num_batches = len(batch_slices(shard_len, cfg.data.batch_size, cfg.data.drop_last))
    if num_batches == 0:
        raise ConfigError("data.batch_size", f"larger than the {shard_len} training samples with drop_last",
                          cfg.data.batch_size)
    per_epoch = steps_per_epoch(num_batches, cfg.grad.accumulate)
    max_iters = cfg.trainer.max_iters or cfg.trainer.max_epochs * per_epoch
    return Timeline(per_epoch, max_iters)


def output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def run(cfg: DictConfig, run_dir: Optional[Path] = None) -> float:
    """Train; return the best validation accuracy (what a sweeper maximises)."""
    validate.check(cfg)
    info = distributed.detect()
    device = pick_device(cfg.trainer.device, info)
    autocast, scaler = amp_setup(cfg.trainer.amp, device)
    seed_everything(cfg.trainer.seed, cfg.trainer.deterministic)

    data = instantiate_at("data", cfg.data).to(device)
    model = instantiate_at("model", cfg.model, in_shape=data.in_shape, num_classes=data.num_classes).to(device)
    optimizer = build_optimizer(model, cfg)
    group_names = [group.get("name", f"group{i}") for i, group in enumerate(optimizer.param_groups)]
    timeline = make_timeline(cfg, len(data.train), info)
    schedule = build_schedule(cfg, timeline)
    if cfg.trainer.dry_run:
        print(describe_param_groups(optimizer.param_groups, model))
        print(f"{type(optimizer).__name__} {dict(fused=optimizer.defaults.get('fused'))}; "
              f"{timeline.iters_per_epoch} steps/epoch, {timeline.max_iters} steps")
        return float("nan")

    run_dir = Path(run_dir) if run_dir is not None else output_dir()
    distributed.init(info)
    progress = Progress()
    found = resume_source(cfg.trainer.resume, run_dir)
    if found is not None:
        progress = restore(found[1], model, optimizer, scaler)
    ddp_model = distributed.wrap(model, info, device)
    scheduler = Scheduler(optimizer, schedule)
    clip = cfg.grad.clip
    grad_step = GradStep(
        ddp_model, optimizer, F.cross_entropy,
        max_norm=None if clip is None else clip.max_norm,
        norm_type=2.0 if clip is None else clip.norm_type,
        clip_value=cfg.grad.clip_value, scaler=scaler, autocast=autocast,
    )
    logger = RunLogger(run_dir, enabled=info.is_main, tensorboard=cfg.logging.tensorboard,
                       progress=cfg.logging.progress, total_steps=timeline.max_iters, initial_step=progress.step)
    if found is not None:
        logger.message(f"resumed from {found[0]} at step {progress.step} (epoch {progress.epoch})")
    logger.event("start", progress.step, resumed_from=None if found is None else str(found[0]))
    config = OmegaConf.to_container(cfg, resolve=True)

    def save(p: Progress, *, last: bool, best: bool) -> None:
        if not info.is_main:
            return
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "progress": vars(p).copy(),
            "rng": checkpoint.rng_state(),
            "config": config,
        }
        if last:
            checkpoint.save_last(state, run_dir)
        if best:
            checkpoint.atomic_save(state, run_dir / checkpoint.BEST)

    loop_run = Run(
        model=ddp_model, data=data, grad_step=grad_step, scheduler=scheduler, timeline=timeline, logger=logger,
        dist=info, batch_size=cfg.data.batch_size, val_batch_size=cfg.data.val_batch_size,
        shuffle=cfg.data.shuffle, drop_last=cfg.data.drop_last, seed=cfg.trainer.seed,
        accumulate=cfg.grad.accumulate, log_every=cfg.logging.log_every, eval_every=cfg.trainer.eval_every,
        ckpt_every=cfg.trainer.ckpt_every, ckpt_by_epoch=cfg.trainer.ckpt_by_epoch, autocast=autocast,
        checkpoint=save, group_names=group_names, stop=StopRequest(info.world_size).install(),
    )
    try:
        progress = fit(loop_run, progress)
        logger.hparams(cfg, {"val/acc": progress.last_val.get("val/acc", float("nan"))})
        logger.event("done", progress.step)
    finally:
        loop_run.stop.restore()
        logger.close()
    distributed.shutdown(info)
    return progress.best_acc


def resume_source(resume: Optional[str], run_dir: Path) -> Optional[tuple[Path, dict[str, Any]]]:
    """`auto`: the latest loadable checkpoint in the run directory, if any; a path: that file."""
    if resume is None:
        return None
    if resume == "auto":
        return checkpoint.load_latest(run_dir)
    path = Path(resume)
    if path.is_dir():
        found = checkpoint.load_latest(path)
        if found is None:
            raise ConfigError("trainer.resume", "no loadable last.pt or prev.pt in that directory", resume)
        return found
    if not path.is_file():
        raise ConfigError("trainer.resume", "no such checkpoint file", resume, ["auto", "null"])
    return path, checkpoint.load(path)


def restore(state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            scaler: Optional[torch.amp.GradScaler]) -> Progress:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    checkpoint.set_rng_state(state["rng"])
    return Progress(**state["progress"])
