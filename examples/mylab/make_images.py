"""Write a small image folder to train `data=image_folder` on: 32×32 pictures of three
shapes (disc, square, cross) at random places, sizes and colours, as PNG and JPEG.

    python examples/mylab/make_images.py shapes        # shapes/train/<shape>/*, shapes/val/<shape>/*
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("cross", "disc", "square")


def draw(shape: str, rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (32, 32), tuple(int(v) for v in rng.integers(0, 100, 3)))
    pen = ImageDraw.Draw(image)
    r = int(rng.integers(6, 12))
    cx, cy = (int(v) for v in rng.integers(r, 32 - r, 2))
    colour = tuple(int(v) for v in rng.integers(150, 256, 3))
    if shape == "disc":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "square":
        pen.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        pen.rectangle((cx - r, cy - 2, cx + r, cy + 2), fill=colour)
        pen.rectangle((cx - 2, cy - r, cx + 2, cy + r), fill=colour)
    return image


def main(root: str, per_class: int = 100) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("val", per_class // 4)):
        for shape in SHAPES:
            folder = Path(root) / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                draw(shape, rng).save(folder / f"{i}.{'png' if i % 2 else 'jpg'}")


if __name__ == "__main__":
    main(sys.argv[1])
