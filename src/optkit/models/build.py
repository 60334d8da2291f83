"""The model of a run from its config node: a reference model or any callable returning an
`nn.Module` (`model=custom`). `in_shape` and `num_classes` come from the data set and are
passed only when the callable's signature takes them (by name, or through `**kwargs`), so a
factory `make_net(width, n_out)` is built from its own arguments alone."""
from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from optkit.data.tensors import DataInfo
from optkit.errors import ConfigError
from optkit.instantiate import instantiate_at, locate_at

DATA_ARGUMENTS = ("in_shape", "num_classes")


def data_arguments(target: Any, info: DataInfo) -> dict[str, Any]:
    """The data set's facts that `target` takes."""
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    values = {"in_shape": tuple(info.in_shape), "num_classes": info.num_classes}
    return {name: values[name] for name in DATA_ARGUMENTS if name in params or takes_any}


def build_model(node: Any, info: DataInfo) -> nn.Module:
    """Instantiate config node `model` for data described by `info`; one `ConfigError` when
    the callable does not import, rejects its arguments or returns no `nn.Module`."""
    target = locate_at("model._target_", node._target_)
    given = {name: value for name, value in data_arguments(target, info).items() if name not in node}
    model = instantiate_at("model", node, **given)
    if not isinstance(model, nn.Module):
        raise ConfigError("model._target_", f"must return a torch.nn.Module, returned a {type(model).__name__}",
                          node._target_)
    return model
