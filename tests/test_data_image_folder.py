"""`data=image_folder`: real PNG/JPEG/BMP/WebP files written here, read by Pillow in workers;
layouts that cannot train are one config error; `data.cache` holds the same pixels."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from optkit.data import DataError, StreamData, load_image_folder
from optkit.data.image_folder import list_images, random_resized_box
from optkit.data.stream import seeded
from optkit.errors import ConfigError

FORMATS = ("png", "jpg", "jpeg", "bmp", "webp")
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def write_folder(root: Path, classes=("cat", "dog", "eel"), per_class: int = 5, size=(40, 36)) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.{FORMATS[(c + i) % len(FORMATS)]}")
            (folder / "notes.txt").write_text("not an image")
    return root


def load(root: Path, **kwargs):
    settings = dict(root=str(root), size=32, val_resize=None, mean=MEAN, std=STD, scale=[0.08, 1.0], cache=False,
                    num_workers=0)
    return load_image_folder(**{**settings, **kwargs})


def test_every_format_is_listed_by_class(tmp_path):
    classes, samples = list_images(str(write_folder(tmp_path)))
    assert classes == ["cat", "dog", "eel"]
    assert [label for _, label in samples["train"]] == [0] * 5 + [1] * 5 + [2] * 5
    assert {path.suffix for path, _ in samples["val"]} == {f".{f}" for f in FORMATS}


def test_validation_images_are_resized_centre_cropped_and_normalised(tmp_path):
    data = load(write_folder(tmp_path))
    path, label = data.val.samples[4]
    x, y = data.val[4]
    image = Image.open(path).convert("RGB").resize((41, 37), Image.BILINEAR).crop((4, 2, 36, 34))  # 36 → 37 = 32·256/224
    expected = (torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1) / 255
                - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    assert y == label and torch.allclose(x, expected, atol=1e-6)


def test_training_crops_are_seeded_and_inside_the_image():
    boxes = []
    for key in range(200):
        with seeded(key):
            boxes.append(random_resized_box(36, 40, (0.08, 1.0)))
    for top, left, h, w in boxes:
        assert 0 <= top and top + h <= 36 and 0 <= left and left + w <= 40 and h * w >= 0.07 * 36 * 40
    with seeded(3):
        again = random_resized_box(36, 40, (0.08, 1.0))
    assert again == boxes[3] and len(set(boxes)) > 150


def test_training_samples_differ_by_seed_and_repeat_under_it(tmp_path):
    data = load(write_folder(tmp_path))
    with seeded(1):
        a = data.train[0][0]
    with seeded(1):
        b = data.train[0][0]
    with seeded(2):
        c = data.train[0][0]
    assert a.shape == (3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)


def test_the_cache_holds_the_streamed_validation_pixels(tmp_path):
    root = write_folder(tmp_path)
    streamed, cached = load(root), load(root, cache=True, num_workers=2)
    assert isinstance(streamed, StreamData) and cached.train.x.dtype == torch.uint8
    assert cached.train.x.shape == (15, 3, 32, 32) and cached.num_classes == 3
    (x_stream, y_stream), = streamed.val_batches(64, 0, 15)
    (x_cache, y_cache), = cached.val_batches(64, 0, 15)
    assert torch.equal(y_stream, y_cache) and torch.allclose(x_stream, x_cache, atol=1e-6)


def remove_val_class(root: Path) -> None:
    for path in (root / "val" / "eel").iterdir():
        path.unlink()
    (root / "val" / "eel").rmdir()


def empty_train(root: Path) -> None:
    for path in (root / "train").glob("*/*.*"):
        if path.suffix != ".txt":
            path.unlink()


@pytest.mark.parametrize("damage,message", [
    (lambda root: None, None),
    (lambda root: (root / "val").rename(root / "valid"), "has no val/ folder"),
    (remove_val_class, "train/ and val/ have different class folders (eel in one only)"),
    (empty_train, "train/ holds no images"),
])
def test_layouts_that_cannot_train_are_one_config_error(tmp_path, damage, message):
    root = write_folder(tmp_path / "d")
    damage(root)
    if message is None:
        list_images(str(root))
        with pytest.raises(ConfigError, match="data.root: no such directory"):
            list_images(str(tmp_path / "missing"))
        return
    with pytest.raises(ConfigError) as err:
        list_images(str(root))
    assert message in str(err.value)


@pytest.mark.parametrize("workers", [0, 2])
def test_an_undecodable_file_is_one_data_error_naming_it(tmp_path, workers):
    root = write_folder(tmp_path)
    bad = root / "val" / "dog" / "2.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    data = load(root, num_workers=workers)
    with pytest.raises(DataError) as err:
        list(data.val_batches(4, 0, 15))
    assert str(bad) in str(err.value) and "cannot be decoded" in str(err.value) and "\n" not in str(err.value)
