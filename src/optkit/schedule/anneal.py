"""MMCV's two annealing curves (`mmcv.runner.hooks.lr_updater.annealing_cos/_linear`).

Written with numpy ufuncs so that the same expression evaluates one value or a whole
curve (`factor` may be an array).
"""
from __future__ import annotations

import numpy as np


def cosine_anneal(start, end, factor, weight=1.0):
    """`end + ½·weight·(start − end)·(1 + cos(π·factor))`: start at factor 0, end at 1."""
    return end + 0.5 * weight * (start - end) * (np.cos(np.pi * factor) + 1)


def linear_anneal(start, end, factor):
    """`start + (end − start)·factor`."""
    return (end - start) * factor + start
