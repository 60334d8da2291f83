"""Models holding every kind of parameter that MMCV's paramwise rules single out.

Plain torch (no optkit, no MMCV), so that `scripts/mmcv_reference/paramwise.py` builds the
very same models inside MMCV's virtualenv and the tests build them here. `MODELS` maps a
name to a factory; the parameter *names* are what the fixtures compare.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class DeformConvBase(nn.Module):
    """Shaped and named like mmcv.ops `DeformConv2dPack`: its own `weight`/`bias` and a
    `conv_offset` Conv2d child. Whether it counts as deformable is the caller's choice
    (MMCV: only real mmcv.ops classes with compiled ops; optkit: `paramwise.dcn_types`)."""

    def __init__(self, c_in: int, c_out: int, k: int = 3) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.conv_offset = nn.Conv2d(c_in, 2 * k * k, k, padding=k // 2)


class DeformConvLike(DeformConvBase):
    """Stands for mmcv.ops `DeformConv2d`."""


class ModulatedDeformConvLike(DeformConvBase):
    """Stands for mmcv.ops `ModulatedDeformConv2d`, the second DCN type MMCV knows (not a
    subclass of the first, as in mmcv.ops)."""


class Inner(nn.Module):
    """`backbone.dw.*` (the key 'backbone' must beat 'dw') and a nested norm."""

    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(4, 4, 3, groups=4)
        self.norm = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 4)


class LayerKinds(nn.Module):
    """One of everything: a root-level parameter, conv without and with bias, BatchNorm
    1d/2d, GroupNorm, LayerNorm, InstanceNorm, a depthwise conv with bias, `Conv2d(1, c, k)`
    (in_channels == groups == 1: "depthwise" for MMCV), a depthwise Conv1d (never
    depthwise), a DCN-like module, `mask_conv` (matched by the key 'conv'), `head` and
    `lm_head` (the key 'head' matches both), and a nested `backbone`."""

    def __init__(self) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.ones([]))
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.conv = nn.Conv2d(8, 8, 3)
        self.dw = nn.Conv2d(8, 8, 3, groups=8)
        self.mono = nn.Conv2d(1, 4, 3)
        self.dw1d = nn.Conv1d(8, 8, 3, groups=8)
        self.gn = nn.GroupNorm(2, 8)
        self.ln = nn.LayerNorm(8)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.bn1d = nn.BatchNorm1d(8)
        self.dcn = DeformConvLike(8, 8)
        self.mdcn = ModulatedDeformConvLike(8, 8)
        self.mask_conv = nn.Conv2d(8, 1, 1)
        self.backbone = Inner()
        self.head = nn.Linear(8, 10)
        self.lm_head = nn.Linear(8, 10)


class Tied(nn.Module):
    """An embedding tied to the output projection (`lm_head.weight is embed.weight`)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.body = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.lm_head = nn.Linear(8, 16, bias=False)
        self.lm_head.weight = self.embed.weight


def frozen(model: nn.Module, names: tuple[str, ...]) -> nn.Module:
    for name, param in model.named_parameters():
        if name in names:
            param.requires_grad_(False)
    return model


def vit() -> nn.Module:
    """optkit's ViT, small: `backbone.cls_token`, `backbone.pos_embed`, `backbone.blocks.N.*`."""
    from optkit.models import ViT

    return ViT(in_shape=(1, 8, 8), num_classes=10, patch_size=4, embed_dim=8, depth=2, num_heads=2,
               mlp_ratio=2.0, dropout=0.0)


def cnn() -> nn.Module:
    from optkit.models import SmallCNN

    return SmallCNN(in_shape=(1, 8, 8), num_classes=10, channels=[4, 8], dropout=0.0)


MODELS: dict[str, Callable[[], nn.Module]] = {
    "layer_kinds": LayerKinds,
    "layer_kinds_frozen": lambda: frozen(LayerKinds(), ("stem.0.weight", "stem.1.weight", "dw.bias", "head.bias")),
    "tied": Tied,
    "vit": vit,
    "cnn": cnn,
}
DCN_TYPES = (DeformConvLike, ModulatedDeformConvLike)
