"""`hydra.utils.instantiate` with errors that name the config key."""
from __future__ import annotations

from typing import Any

import hydra.utils
from hydra.errors import InstantiationException

from optkit.errors import ConfigError


def instantiate_at(key: str, node: Any, **kwargs: Any) -> Any:
    """Instantiate config node `key`; a `ConfigError` raised inside comes out under `key`
    (a policy's `min_lr` becomes `schedule.min_lr`), any other failure as one ConfigError."""
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, ConfigError):
            raise (cause if cause.key.startswith(f"{key}.") else cause.under(key)) from None
        detail = str(cause) if cause is not None else str(err).splitlines()[0]
        raise ConfigError(key, f"cannot build {node.get('_target_', '?')}: {detail}") from None
