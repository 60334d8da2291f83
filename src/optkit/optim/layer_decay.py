"""Layer-wise lr decay for ViTs: a custom optimizer constructor (`optimizer_constructor=layer_decay`).

Fine-tuning a pre-trained ViT, BEiT (Bao et al. 2022, §2.6 / appendix) and MAE (He et al.
2022, appendix A.2) give the layers near the input smaller learning rates than those near
the head. With `L = depth + 1` and a layer id per parameter, taken from its name:

    patch_embed.*, cls_token, pos_embed   → 0
    blocks.i.*                            → i + 1
    everything else (final norm, head)    → L

the lr is multiplied by `decay_rate ** (L - layer_id)`: the head keeps the base lr, block i
gets `decay_rate ** (depth - i)` of it, the embeddings `decay_rate ** (depth + 1)`. Names may
carry MMCls's `backbone.` prefix (`backbone.blocks.3.attn.qkv.weight`) or not (timm).

The scale multiplies what the paramwise rules give (so `paramwise=no_decay_bias_norm` keeps
norms and biases free of weight decay in every layer), and parameters with the same final
(lr, weight_decay) are merged as usual. Group names are the layer, then the rule labels:
`layer0`, `layer3`, `layer3.bias+norm`, `layer5`. Each group's `lr_mult` is the whole
multiplier of `optimizer.lr`: the paramwise rule's times the layer's scale.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import torch
from torch import nn

from optkit.errors import ConfigError
from optkit.instantiate import instantiate_at
from optkit.optim.build import make_optimizer
from optkit.optim.groups import Entry, merge_groups, param_entries

LAYER_NAME = re.compile(r"^(?:backbone\.)?(?:(cls_token|pos_embed|patch_embed)\b|blocks\.(\d+)\.)")


def layer_id(name: str, depth: int) -> int:
    """BEiT / MAE layer id of parameter `name` in a ViT of `depth` blocks (see module)."""
    match = LAYER_NAME.match(name)
    if match is None:
        return depth + 1
    return 0 if match.group(1) else int(match.group(2)) + 1


def vit_depth(names: list[str]) -> int:
    """Number of transformer blocks: one more than the largest `blocks.i` index."""
    found = [int(m.group(2)) for m in map(LAYER_NAME.match, names) if m is not None and m.group(2) is not None]
    if not found:
        raise ConfigError("optimizer_constructor", "layer_decay needs a ViT whose parameters are named "
                          "[backbone.]blocks.N.* (model=vit_tiny)", names[0] if names else None)
    return max(found) + 1


def decayed(entries: list[Entry], decay_rate: float) -> list[Entry]:
    """The entries with their lr scaled by layer, scoped by layer (group names `layer3...`)."""
    depth = vit_depth([e.name for e in entries])
    out = []
    for entry in entries:
        layer = layer_id(entry.name, depth)
        scale = decay_rate ** (depth + 1 - layer)
        out.append(Entry(entry.name, entry.param, entry.lr * scale, entry.weight_decay, entry.labels, f"layer{layer}"))
    return out


def layer_decay_constructor(model: nn.Module, optimizer_cfg: Any, paramwise_cfg: Any, *,
                            decay_rate: float = 0.75) -> torch.optim.Optimizer:
    """The optimizer with paramwise rules and layer-wise lr decay, groups merged by (lr, wd)."""
    if not 0 < decay_rate <= 1:
        raise ConfigError("optimizer_constructor.decay_rate", "must be in (0, 1]", decay_rate)
    make = instantiate_at("optimizer", optimizer_cfg, _convert_="all")
    lr: Optional[float] = make.keywords.get("lr")
    if lr is None:
        raise ConfigError("optimizer.lr", "layer_decay scales a base lr; set one", None)
    weight_decay = make.keywords.get("weight_decay")
    entries = param_entries(model, lr=lr, weight_decay=weight_decay, paramwise=paramwise_cfg)
    return make_optimizer(make, model, merge_groups(decayed(entries, decay_rate), lr=lr, weight_decay=weight_decay))
