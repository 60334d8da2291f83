from __future__ import annotations

import numpy as np
import torch

from optkit.data.split import seeded_split, split_sizes, standardise
from optkit.data.tensors import DataInfo, Dataset, TensorSplit

NUM_IMAGES = 1797  # sklearn.datasets.load_digits
SHAPE = (1, 8, 8)


def load_digits(*, val_fraction: float, split_seed: int, **_: object) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes).

    Ships inside scikit-learn, so nothing is downloaded. Split by `split_seed` (stratified
    by nothing: a seeded permutation), standardised with the training split's per-pixel
    mean and a global std.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = torch.from_numpy(bunch.data.astype(np.float32)).reshape(-1, *SHAPE)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    train_idx, val_idx = seeded_split(len(y), val_fraction, split_seed)
    x_train, x_val = standardise(x[train_idx], x[val_idx])
    return Dataset(TensorSplit(x_train, y[train_idx]), TensorSplit(x_val, y[val_idx]), SHAPE, 10)


def describe_digits(*, val_fraction: float, **_: object) -> DataInfo:
    return DataInfo(SHAPE, 10, split_sizes(NUM_IMAGES, val_fraction)[0])
