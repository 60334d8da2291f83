"""`data=image_folder`: images in class-per-folder layout, decoded by Pillow in the workers.

    DIR/train/<class>/*.png|jpg|jpeg|bmp|webp
    DIR/val/<class>/*

Classes are the folder names, sorted (index = position), and must be the same in both
splits. Training samples get the usual ImageNet-style augmentation: a random resized crop
(torchvision's `RandomResizedCrop` rule: area share in `data.scale`, aspect ratio in
[3/4, 4/3], ten tries then the centre) to `data.size`, a horizontal flip with probability
½, and mean/std normalisation; validation samples are resized (shorter side to
`data.val_resize`, by default size·256/224) and centre-cropped. The random draws come from
torch's RNG, which `optkit.data.stream` seeds per (seed, rank, epoch, sample).

`data.cache=true` decodes every image once (through the same DataLoader workers) into a
uint8 tensor of `size × size` (the validation transform) and trains from memory, on the
training device, with the in-memory path's batched augmentation (`random_crop_flip`: pad 4,
random crop, flip) instead of the per-image random resized crop.

torchvision is not needed; where it is installed, `torchvision.datasets.ImageFolder` works
through `data=dataset` too.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from optkit.data.augment import random_crop_flip
from optkit.data.stream import LoaderSettings, StreamData, fetched
from optkit.data.tensors import DataInfo, Dataset, TensorSplit
from optkit.errors import ConfigError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
SPLITS = ("train", "val")
RATIO = (3 / 4, 4 / 3)


def list_split(root: Path, split: str) -> tuple[list[str], list[tuple[Path, int]]]:
    """(classes, [(path, class index)]) of one split, sorted."""
    folder = root / split
    if not folder.is_dir():
        raise ConfigError("data.root", f"has no {split}/ folder (expected {split}/<class>/<images>)", str(root))
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    samples = [(path, index) for index, name in enumerate(classes)
               for path in sorted((folder / name).iterdir()) if path.suffix.lower() in EXTENSIONS]
    if not samples:
        raise ConfigError("data.root", f"{split}/ holds no images ({', '.join(EXTENSIONS)}) in class folders", str(root))
    return classes, samples


def list_images(root: Optional[str]) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """The classes and each split's samples; one `ConfigError` for a layout that cannot train."""
    if root is None:
        raise ConfigError("data.root", "set the directory holding train/<class>/ and val/<class>/ image folders", None)
    if not Path(root).is_dir():
        raise ConfigError("data.root", "no such directory", root)
    (classes, train), (val_classes, val) = (list_split(Path(root), split) for split in SPLITS)
    if classes != val_classes:
        only = sorted(set(classes) ^ set(val_classes))
        raise ConfigError("data.root", f"train/ and val/ have different class folders ({', '.join(only[:3])}"
                          f"{' ...' if len(only) > 3 else ''} in one only)", root)
    if len(classes) < 2:
        raise ConfigError("data.root", f"needs at least 2 class folders, found {classes}", root)
    return classes, {"train": train, "val": val}


def random_resized_box(height: int, width: int, scale: Sequence[float]) -> tuple[int, int, int, int]:
    """(top, left, h, w) of torchvision's RandomResizedCrop.get_params, from torch's RNG."""
    area = height * width
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(10):
        target = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = math.exp(torch.empty(1).uniform_(*log_ratio).item())
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,)).item())
            left = int(torch.randint(0, width - w + 1, (1,)).item())
            return top, left, h, w
    in_ratio = width / height
    w, h = (width, round(width / RATIO[0])) if in_ratio < RATIO[0] else (
        (round(height * RATIO[1]), height) if in_ratio > RATIO[1] else (width, height))
    return (height - h) // 2, (width - w) // 2, h, w


class ImageFolder(torch.utils.data.Dataset):
    """One split: (normalised float image (3, size, size), class index); `train` augments."""

    def __init__(self, samples: list[tuple[Path, int]], classes: list[str], size: int, val_resize: int,
                 mean: Sequence[float], std: Sequence[float], train: bool, normalise: bool = True) -> None:
        self.samples, self.classes = samples, classes
        self.size, self.val_resize, self.train, self.normalise = size, val_resize, train, normalise
        self.mean = torch.tensor(list(mean)).view(3, 1, 1)
        self.std = torch.tensor(list(std)).view(3, 1, 1)
        self.scale = (0.08, 1.0)

    def __len__(self) -> int:
        return len(self.samples)

    def decode(self, path: Path):  # -> PIL.Image.Image
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except Exception as err:
            # an OSError: a DataLoader worker re-raises it in the training process, where
            # `stream.fetched` turns it into one DataError line
            raise OSError(f"{path}: cannot be decoded ({type(err).__name__}: {str(err).splitlines()[0]})") from None

    def transform(self, image):  # PIL.Image.Image -> PIL.Image.Image
        from PIL import Image

        if self.train:
            top, left, h, w = random_resized_box(image.height, image.width, self.scale)
            image = image.resize((self.size, self.size), Image.BILINEAR, box=(left, top, left + w, top + h))
            return image.transpose(Image.FLIP_LEFT_RIGHT) if torch.rand(1).item() < 0.5 else image
        short = min(image.width, image.height)
        width, height = round(image.width * self.val_resize / short), round(image.height * self.val_resize / short)
        image = image.resize((width, height), Image.BILINEAR)
        top, left = (height - self.size) // 2, (width - self.size) // 2
        return image.crop((left, top, left + self.size, top + self.size))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        pixels = torch.from_numpy(np.asarray(self.transform(self.decode(path)), dtype=np.uint8).copy()).permute(2, 0, 1)
        if not self.normalise:
            return pixels, label
        return (pixels.float() / 255.0 - self.mean) / self.std, label


def decoded(split: ImageFolder, settings: LoaderSettings) -> TensorSplit:
    """Every image of `split` as uint8 (N, 3, size, size), decoded once by the loader's workers."""
    loader = DataLoader(split, batch_size=256, num_workers=settings.num_workers)
    batches, xs, ys = iter(loader), [], []
    for _ in range(len(loader)):
        x, y = fetched(batches, "decoding the image cache")
        xs.append(x)
        ys.append(y)
    return TensorSplit(torch.cat(xs), torch.cat(ys))


def load_image_folder(*, root: Optional[str], size: int, val_resize: Optional[int], mean: Sequence[float],
                      std: Sequence[float], scale: Sequence[float], cache: bool, num_workers: int = 2,
                      pin_memory: bool = True, persistent_workers: bool = True, prefetch_factor: Optional[int] = 2,
                      **_: object) -> StreamData | Dataset:
    classes, samples = list_images(root)
    resize = val_resize or round(size * 256 / 224)
    settings = LoaderSettings(num_workers, pin_memory, persistent_workers, prefetch_factor)
    train, val = (ImageFolder(samples[split], classes, size, resize, mean, std, train=split == "train" and not cache,
                              normalise=not cache) for split in SPLITS)
    train.scale = tuple(scale)
    if not cache:
        return StreamData(train, val, (3, size, size), len(classes), settings)
    mean_t, std_t = torch.tensor(list(mean)).view(1, 3, 1, 1), torch.tensor(list(std)).view(1, 3, 1, 1)

    def normalise(x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255.0 - mean_t.to(x.device)) / std_t.to(x.device)

    return Dataset(decoded(train, settings), decoded(val, settings), (3, size, size), len(classes),
                   train_transform=random_crop_flip, input_transform=normalise)


def describe_image_folder(*, root: Optional[str], size: int, scale: Sequence[float], **_: object) -> DataInfo:
    """Lists the folders (nothing decoded): classes, training-set size, and the checks."""
    if size < 1:
        raise ConfigError("data.size", "must be >= 1", size)
    if not (len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
        raise ConfigError("data.scale", "must be [low, high] with 0 < low <= high <= 1", list(scale))
    classes, samples = list_images(root)
    return DataInfo((3, size, size), len(classes), len(samples["train"]))
