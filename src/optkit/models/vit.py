from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optkit.errors import ConfigError


class Attention(nn.Module):
    """Multi-head self-attention with timm's parameter names (`qkv`, `proj`)."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Backbone(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], patch_size: int, embed_dim: int, depth: int,
                 num_heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        c, h, w = in_shape
        if h % patch_size or w % patch_size:
            raise ConfigError("model.patch_size", f"must divide the image size {h}×{w}", patch_size)
        num_patches = (h // patch_size) * (w // patch_size)
        self.patch_embed = nn.Conv2d(c, embed_dim, patch_size, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, embed_dim) * 0.02)
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 0])


class ViT(nn.Module):
    """A tiny Vision Transformer named like MMCls's: `backbone.cls_token`,
    `backbone.pos_embed`, `backbone.blocks.N.*`, `head.*` (the tutorial's custom_keys)."""

    def __init__(self, *, in_shape: tuple[int, ...], num_classes: int, patch_size: int, embed_dim: int,
                 depth: int, num_heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ConfigError("model.num_heads", f"must divide embed_dim={embed_dim}", num_heads)
        self.backbone = Backbone(in_shape, patch_size, embed_dim, depth, num_heads, mlp_ratio, dropout)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))
