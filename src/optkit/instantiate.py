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


def locate_at(key: str, path: str) -> Any:
    """The object at import path `path` (`pkg.mod.Name`); failure is one ConfigError under
    `key` (hydra's own get_object also logs a multi-line error)."""
    from optkit.hydra_private import locate

    try:
        return locate(path)
    except Exception as err:  # ImportError, or whatever the imported module raises
        lines = [line for line in str(err).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(err).__name__)
        raise ConfigError(key, f"cannot import ({detail})", path) from None
