"""Reference models: shapes, and the parameter names paramwise rules rely on."""
from __future__ import annotations

import pytest
import torch

from optkit.models import MLP, ResNet, SmallCNN, ViT

CASES = [
    (MLP, dict(hidden=[16], dropout=0.0)),
    (SmallCNN, dict(channels=[8, 16], dropout=0.0)),
    (ResNet, dict(depth=20, width=8)),
    (ResNet, dict(depth=18, width=8)),
    (ViT, dict(patch_size=2, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0, dropout=0.0)),
]


@pytest.mark.parametrize("cls,kwargs", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_forward_shape(cls, kwargs):
    model = cls(in_shape=(1, 8, 8), num_classes=10, **kwargs)
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_vit_names_match_the_tutorial_keys():
    names = [n for n, _ in ViT(in_shape=(1, 8, 8), num_classes=10, patch_size=2, embed_dim=16, depth=2,
                                 num_heads=2, mlp_ratio=2.0, dropout=0.0).named_parameters()]
    assert "backbone.cls_token" in names and "backbone.pos_embed" in names
    assert any(n.startswith("backbone.blocks.1.") for n in names) and "head.weight" in names


def test_cnn_holds_every_special_layer_kind():
    model = SmallCNN(in_shape=(1, 8, 8), num_classes=10, channels=[8], dropout=0.0)
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"BatchNorm2d", "LayerNorm", "Conv2d", "Linear"} <= kinds
    assert model.dwconv.groups == model.dwconv.in_channels


def test_resnet20_has_the_paper_parameter_count():
    model = ResNet(in_shape=(3, 32, 32), num_classes=10, depth=20, width=16)
    assert sum(p.numel() for p in model.parameters()) == 272474
