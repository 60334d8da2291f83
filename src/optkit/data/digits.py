from __future__ import annotations

import numpy as np
import torch

from optkit.data.split import seeded_split, standardise
from optkit.data.tensors import Dataset, TensorSplit


def load_digits(*, val_fraction: float, split_seed: int, **_: object) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes).

    Ships inside scikit-learn, so nothing is downloaded. Split by `split_seed` (stratified
    by nothing: a seeded permutation), standardised with the training split's per-pixel
    mean and a global std.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = torch.from_numpy(bunch.data.astype(np.float32)).reshape(-1, 1, 8, 8)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    train_idx, val_idx = seeded_split(len(y), val_fraction, split_seed)
    x_train, x_val = standardise(x[train_idx], x[val_idx])
    return Dataset(TensorSplit(x_train, y[train_idx]), TensorSplit(x_val, y[val_idx]), (1, 8, 8), 10)
