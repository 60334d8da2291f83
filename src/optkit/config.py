"""Structured configs: the types and defaults of every config group, in Hydra's ConfigStore.

The root schema `TrainConfig` types the fixed groups (paramwise, grad, trainer, logging);
each option of a group whose fields depend on the option (model, data, schedule, warmup, momentum)
starts from a schema registered under `schema/` (`defaults: [/schema/<group>/<option>@_here_]`);
ema and swa likewise, from `optkit.averaging`'s settings classes.
YAML files only pick options and recipe values, so a default lives in exactly one place: a
dataclass below or, for schedules, warmup and momentum, the policy dataclass itself (`target_schema`
derives the config from its fields). Optimizers are the
exception: their YAML files list torch's own keyword arguments, checked against the
installed torch by `tests/test_optim_configs.py`.

This module must not import torch: `train.py --help` stays fast.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from optkit import averaging, schedule

# The config tree lives inside the package (src/optkit/conf; the checkout's conf/ links to it),
# so an installed optkit finds it: Hydra reads it as CONF_SEARCH_PATH, tools list it at CONF_DIR.
CONF_DIR = Path(__file__).resolve().parent / "conf"
CONF_SEARCH_PATH = "pkg://optkit.conf"


# --- model -----------------------------------------------------------------------------
# Input shape and class count come from the data set, not from here.


@dataclass
class MLPConfig:
    _target_: str = "optkit.models.MLP"
    hidden: List[int] = field(default_factory=lambda: [256, 256])
    dropout: float = 0.0


@dataclass
class CNNConfig:
    """Small conv net holding every layer kind paramwise rules treat specially."""

    _target_: str = "optkit.models.SmallCNN"
    channels: List[int] = field(default_factory=lambda: [32, 64])
    dropout: float = 0.1


@dataclass
class ResNetConfig:
    """CIFAR-style ResNet: depth 20 (3 stages of basic blocks) or 18 (4 stages, [2,2,2,2])."""

    _target_: str = "optkit.models.ResNet"
    depth: int = 20
    width: int = 16


@dataclass
class ViTTinyConfig:
    """Parameters named `backbone.cls_token`, `backbone.pos_embed`, `backbone.blocks.N.*`,
    `head.*`, so the tutorial's custom_keys apply verbatim."""

    _target_: str = "optkit.models.ViT"
    patch_size: int = 2
    embed_dim: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.0


# --- data ------------------------------------------------------------------------------
# Bundled data sets live in memory (on the training device) and are batched by index
# permutation; data=dataset streams any torch Dataset through a DataLoader.


@dataclass
class DataConfig:
    _target_: str = MISSING
    batch_size: int = 64  # MMCV data.samples_per_gpu: per process, per micro-batch
    shuffle: bool = True
    drop_last: bool = False  # mmcls trains with drop_last=False
    val_batch_size: int = 512


@dataclass
class DigitsConfig(DataConfig):
    """scikit-learn's bundled 8×8 digits (1797 images): the embedded default."""

    _target_: str = "optkit.data.load_digits"
    val_fraction: float = 0.2
    split_seed: int = 0  # the train/val split is fixed by this, not by trainer.seed


@dataclass
class SyntheticConfig(DataConfig):
    """Gaussian inputs labelled by a fixed random teacher network: learnable, any size."""

    _target_: str = "optkit.data.load_synthetic"
    num_train: int = 4096
    num_val: int = 1024
    shape: List[int] = field(default_factory=lambda: [1, 8, 8])
    num_classes: int = 10
    seed: int = 0


@dataclass
class Cifar10Config(DataConfig):
    """CIFAR-10 python-pickle batches (`cifar-10-batches-py`) read from a local directory."""

    _target_: str = "optkit.data.load_cifar10"
    root: Optional[str] = None  # directory holding data_batch_1..5 and test_batch
    augment: bool = True  # random crop (pad 4) and horizontal flip, on the device
    batch_size: int = 128


@dataclass
class DatasetNode:
    """A `torch.utils.data.Dataset` class or factory and its keyword arguments (+data.train.n=...)."""

    _target_: str = MISSING


@dataclass
class StreamConfig(DataConfig):
    """A data set read sample by sample through a torch DataLoader."""

    num_workers: int = 2  # DataLoader processes (0: load in the training process)
    pin_memory: bool = True  # page-locked batches for a CUDA device (ignored on CPU)
    persistent_workers: bool = True  # keep the workers between epochs
    prefetch_factor: Optional[int] = 2  # batches each worker loads ahead


@dataclass
class DatasetConfig(StreamConfig):
    """Any map-style Dataset returning (input, label), streamed through a DataLoader."""

    _target_: str = "optkit.data.load_dataset"
    _recursive_: bool = False  # load_dataset builds the splits itself (errors name data.train / data.val)
    train: DatasetNode = field(default_factory=DatasetNode)
    val: DatasetNode = field(default_factory=DatasetNode)
    num_classes: Optional[int] = None  # null: len(train.classes)


@dataclass
class ImageFolderConfig(StreamConfig):
    """Class-per-folder images (root/train/<class>/*, root/val/<class>/*), decoded by Pillow."""

    _target_: str = "optkit.data.load_image_folder"
    root: Optional[str] = None
    size: int = 224  # training crop and validation centre crop, in pixels
    val_resize: Optional[int] = None  # validation: shorter side resized to this first; null: size * 256 / 224
    scale: List[float] = field(default_factory=lambda: [0.08, 1.0])  # random resized crop's area share
    mean: List[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])  # ImageNet's, on [0, 1] pixels
    std: List[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    cache: bool = False  # decode once, train from memory (on the device) with pad-crop-flip augmentation


# --- optimizer step --------------------------------------------------------------------


@dataclass
class ClipConfig:
    """MMCV `optimizer_config.grad_clip` (torch.nn.utils.clip_grad_norm_ arguments), applied
    once per optimizer step to the accumulated, AMP-unscaled gradient."""

    max_norm: Optional[float] = None  # null: no clipping by norm (the pre-clip norm is still logged)
    norm_type: float = 2.0  # any p > 0, or inf (largest |g|)


@dataclass
class GradConfig:
    """The optimizer step (docs/grad.md). `grad=clip` selects the tutorial's max_norm=35,
    norm_type=2; `grad.clip=null` turns clipping off, Hydra's answer to MMCV's
    `_delete_=True` (so does `grad.clip.max_norm=null`)."""

    clip: Optional[ClipConfig] = field(default_factory=ClipConfig)
    clip_value: Optional[float] = None  # elementwise clip_grad_value_, after the norm clip; null: off
    accumulate: int = 1  # MMCV GradientCumulativeOptimizerHook.cumulative_iters: micro-batches per step
    # Which micro-batches share a step, with what loss weight. flush: windows inside an epoch,
    # last one partial, weighted by sample count: k×b equals the big batch exactly, and the
    # schedule counts optimizer steps. mmcv: MMCV's windows across epochs, loss / k (the run's
    # last max_iters % k micro-batches / that remainder); the schedule, trainer.max_iters and
    # iteration-valued settings count micro-batches, as MMCV's runner.iter does.
    remainder: str = "flush"


@dataclass
class ParamwiseConfig:
    """MMCV `paramwise_cfg`. A multiplier left at None is absent (as in MMCV, where the mere
    presence of a decay multiplier without a base weight decay is an error)."""

    bias_lr_mult: Optional[float] = None
    bias_decay_mult: Optional[float] = None
    norm_decay_mult: Optional[float] = None
    dwconv_decay_mult: Optional[float] = None
    dcn_offset_lr_mult: Optional[float] = None
    flat_decay_mult: Optional[float] = None  # MMEngine: other 1-d parameters (tokens, scales, unmatched biases)
    rule_order: str = "mmcv"  # mmcv | mmengine: which weight-decay rule wins (optim/paramwise.py, decay_rule)
    bypass_duplicate: bool = False  # tied parameters: keep the first occurrence (else an error)
    custom_keys: Dict[str, Any] = field(default_factory=dict)  # {substring: {lr_mult, decay_mult}}
    # Module classes (import paths, imported after custom_imports) whose Conv2d children named
    # conv_offset count as a deformable conv's offset conv (MMCV: mmcv.ops DeformConv2d and
    # ModulatedDeformConv2d, only with compiled ops).
    dcn_types: List[str] = field(default_factory=list)


# --- run -------------------------------------------------------------------------------


@dataclass
class TrainerConfig:
    max_epochs: int = 30
    max_iters: Optional[int] = None  # when set, bounds the run instead of max_epochs
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: Optional[str] = None  # bf16 | fp16 (CUDA, with GradScaler) | null
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms: bitwise-exact resume
    eval_every: int = 1  # epochs
    ckpt_every: int = 1  # epochs, or optimizer steps when ckpt_by_epoch is false
    ckpt_by_epoch: bool = True
    resume: Optional[str] = "auto"  # auto (last.pt in the run dir, if any) | PATH | null
    # Resume even when the checkpoint was trained with settings that change the trajectory
    # (optimizer, schedule, grad, data, ...): the new settings apply from the resumed step.
    resume_force: bool = False
    # A step whose loss or gradient is not finite is never applied. stop: write last.pt (the
    # weights before that update) and exit 3; skip: count it (train/nonfinite_steps) and go on.
    nonfinite: str = "stop"
    max_nonfinite: int = 10  # skip: stop after this many non-finite steps in a row
    dry_run: bool = False  # print the param-group table and exit
    load_from: Optional[str] = None  # MMCV load_from: start from these weights (resume wins)
    load_strict: bool = True  # load_from: every key must match (false: load what fits, report the rest)
    compile: bool = False  # torch.compile the model (in place: checkpoint and parameter names unchanged)
    monitor: str = "val/acc"  # the metric that picks best.pt and that a sweep optimises: val/acc | val/acc5 | val/loss
    monitor_mode: str = "max"  # max | min (val/loss wants min)


# --- loss ------------------------------------------------------------------------------


@dataclass
class CrossEntropyConfig:
    """MMCls CrossEntropyLoss: `label_smoothing` (the head's label_smooth_val), class `weight`."""

    _target_: str = "optkit.loss.CrossEntropy"
    label_smoothing: float = 0.0
    weight: Optional[List[float]] = None  # one weight per class; null: all 1


@dataclass
class LoggingConfig:
    log_every: int = 10  # optimizer steps between scalar logs (the only host syncs)
    tensorboard: bool = True
    progress: bool = True  # tqdm bar on a terminal


@dataclass
class OptimizerConstructorConfig:
    """MMCV's `constructor`: any callable `(model, optimizer_cfg, paramwise_cfg) ->
    torch.optim.Optimizer`; the default applies the paramwise rules and merges groups."""

    _target_: str = "optkit.optim.default_constructor"
    _partial_: bool = True


@dataclass
class LayerDecayConfig(OptimizerConstructorConfig):
    """Layer-wise lr decay for ViT fine-tuning (BEiT, MAE): lr × decay_rate^(depth + 1 − layer)."""

    _target_: str = "optkit.optim.layer_decay_constructor"
    decay_rate: float = 0.75  # MAE's ViT-B fine-tuning value (BEiT: 0.65)


@dataclass
class AutoScaleLrConfig:
    """MMDetection / MMEngine `auto_scale_lr` (optkit.optim.auto_scale_lr): optimizer.lr ×
    (world size × data.batch_size × grad.accumulate) / base_batch_size, or its square root."""

    enable: bool = False
    base_batch_size: Optional[int] = None  # the total batch optimizer.lr was written for
    rule: str = "linear"  # linear | sqrt


@dataclass
class TrainConfig:
    """The root: one field per config group plus MMCV's top-level keys."""

    model: Any = MISSING
    data: Any = MISSING
    optimizer: Any = MISSING
    schedule: Any = MISSING
    warmup: Any = MISSING
    momentum: Any = None
    wd_schedule: Any = None  # weight-decay schedule (conf/wd_schedule): null or cosine
    ema: Any = None  # model EMA (conf/ema): null, timm-style or MMCV EMAHook
    swa: Any = None  # stochastic weight averaging (conf/swa): null or torch.optim.swa_utils
    paramwise: ParamwiseConfig = field(default_factory=ParamwiseConfig)
    grad: GradConfig = field(default_factory=GradConfig)
    auto_scale_lr: AutoScaleLrConfig = field(default_factory=AutoScaleLrConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    optimizer_constructor: Any = MISSING
    loss: Any = MISSING
    # MMCls train_cfg.augments, on the device: [{type: BatchMixup | BatchCutMix, alpha, prob}]
    augments: List[Any] = field(default_factory=list)
    custom_imports: List[str] = field(default_factory=list)  # modules imported before building
    allow_failed_imports: bool = False  # MMCV: a module that fails to import is a warning


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys: {"optimizer.lr": 0.1, ...}; an empty mapping is a leaf,
    so that a change from `{}` to something shows (resume's config comparison)."""
    if not isinstance(node, typing.Mapping) or not node:
        return {prefix.rstrip("."): node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat


# --- schemas derived from policy dataclasses --------------------------------------------


def target_name(node: Any) -> str:
    """A config node's `_target_` as a reader says it (`load_digits` → `digits`,
    `optkit.schedule.CosineAnnealing` → `CosineAnnealing`); `none` for an absent node.
    The tools' one-line run descriptions use it."""
    if node is None:
        return "none"
    return str(node.get("_target_", "?")).rsplit(".", 1)[-1].removeprefix("load_")


def target_schema(cls: type, target: str) -> type:
    """A structured config for dataclass `cls`: `_target_` plus its fields and defaults."""
    hints = typing.get_type_hints(cls)
    fields: list[tuple[str, Any, Any]] = [("_target_", str, field(default=target))]
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = field(default=f.default)
        else:
            default = field(default_factory=f.default_factory)
        fields.append((f.name, hints[f.name], default))
    return dataclasses.make_dataclass(f"{cls.__name__}Config", fields)


def register() -> ConfigStore:
    cs = ConfigStore.instance()
    cs.store(name="schema_train", node=TrainConfig)
    for name, node in {"mlp": MLPConfig, "cnn": CNNConfig, "resnet": ResNetConfig, "vit_tiny": ViTTinyConfig}.items():
        cs.store(group="schema/model", name=name, node=node)
    for name, node in {"digits": DigitsConfig, "synthetic": SyntheticConfig, "cifar10": Cifar10Config,
                       "dataset": DatasetConfig, "image_folder": ImageFolderConfig}.items():
        cs.store(group="schema/data", name=name, node=node)
    for name, policy in schedule.LR_POLICIES.items():
        cs.store(group="schema/schedule", name=name, node=target_schema(policy, f"optkit.schedule.{policy.__name__}"))
    cs.store(group="schema/loss", name="cross_entropy", node=CrossEntropyConfig)
    for name, node in {"default": OptimizerConstructorConfig, "layer_decay": LayerDecayConfig}.items():
        cs.store(group="schema/optimizer_constructor", name=name, node=node)
    cs.store(group="schema/warmup", name="warmup", node=target_schema(schedule.Warmup, "optkit.schedule.Warmup"))
    for name, policy in schedule.MOMENTUM_POLICIES.items():
        cs.store(group="schema/momentum", name=name, node=target_schema(policy, f"optkit.schedule.{policy.__name__}"))
    for name, policy in schedule.WD_POLICIES.items():
        cs.store(group="schema/wd_schedule", name=name,
                 node=target_schema(policy, f"optkit.schedule.{policy.__name__}"))
    for name, policy in averaging.EMA_POLICIES.items():
        cs.store(group="schema/ema", name=name, node=target_schema(policy, f"optkit.averaging.{policy.__name__}"))
    cs.store(group="schema/swa", name="swa", node=target_schema(averaging.Swa, "optkit.averaging.Swa"))
    return cs


register()
