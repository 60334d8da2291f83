"""Static descriptions of the data sets: shape, classes and training-set size, known
without loading anything (validation and the lr-curve tool need them for the param groups
and the number of steps per epoch), and checks that a loader's files are there.

`DESCRIPTIONS` maps a data `_target_` to a function of that node's fields returning a
`DataInfo`; `FILE_CHECKS` maps it to a function of the same fields that raises a
`ConfigError` when the files the loader reads are missing. A custom data set registers its
own from a module listed in `custom_imports`:
`optkit.data.DESCRIPTIONS["my_pkg.load_mine"] = describe_mine`.
"""
from __future__ import annotations

from typing import Any, Callable

from optkit.data.cifar10 import check_cifar10_files, describe_cifar10
from optkit.data.custom import describe_dataset
from optkit.data.digits import describe_digits
from optkit.data.image_folder import describe_image_folder
from optkit.data.synthetic import describe_synthetic
from optkit.data.tensors import DataInfo
from optkit.errors import ConfigError

DESCRIPTIONS: dict[str, Callable[..., DataInfo]] = {
    "optkit.data.load_digits": describe_digits,
    "optkit.data.load_synthetic": describe_synthetic,
    "optkit.data.load_cifar10": describe_cifar10,
    "optkit.data.load_dataset": describe_dataset,
    "optkit.data.load_image_folder": describe_image_folder,
}
FILE_CHECKS: dict[str, Callable[..., None]] = {
    "optkit.data.load_cifar10": check_cifar10_files,
}


def fields(node: Any) -> dict[str, Any]:
    return {key: value for key, value in node.items() if not str(key).startswith("_")}


def describe(node: Any) -> DataInfo:
    """The `DataInfo` of data config `node`, from its registered description."""
    target = node.get("_target_")
    if target not in DESCRIPTIONS:
        raise ConfigError("data._target_", "has no static description (register one in optkit.data.DESCRIPTIONS)",
                          target, DESCRIPTIONS)
    return DESCRIPTIONS[target](**fields(node))


def check_files(node: Any) -> None:
    """Raise a `ConfigError` when the files data config `node` would read are missing
    (nothing to check for embedded and generated data)."""
    check = FILE_CHECKS.get(node.get("_target_"))
    if check is not None:
        check(**fields(node))
