from __future__ import annotations

import torch
from torch import nn

from optkit.errors import ConfigError

# depth → blocks per stage (basic blocks). 20/32/56: He et al. 2016 §4.2 CIFAR nets;
# 18: the ImageNet ResNet-18 layout with a 3×3 stem, as in common CIFAR recipes.
LAYOUTS = {20: [3, 3, 3], 32: [5, 5, 5], 56: [9, 9, 9], 18: [2, 2, 2, 2]}


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet: 3×3 stem, stages of basic blocks doubling width, global pool."""

    def __init__(self, *, in_shape: tuple[int, ...], num_classes: int, depth: int, width: int) -> None:
        super().__init__()
        if depth not in LAYOUTS:
            raise ConfigError("model.depth", "unsupported ResNet depth", depth, [str(d) for d in LAYOUTS])
        self.stem = nn.Sequential(nn.Conv2d(in_shape[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks: list[nn.Module] = []
        c_in = width
        for stage, n in enumerate(LAYOUTS[depth]):
            c_out = width * 2**stage
            for i in range(n):
                blocks.append(BasicBlock(c_in, c_out, 2 if stage and i == 0 else 1))
                c_in = c_out
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.layers(self.stem(x))).flatten(1))
