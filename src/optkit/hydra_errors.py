"""Hydra's and OmegaConf's exceptions, turned into the one-line `ConfigError` that names the key.

Hydra reports a bad override over several lines (a traceback under `HYDRA_FULL_ERROR=1`);
optkit says which key is wrong, what it got, and the nearest valid choices.
"""
from __future__ import annotations

from typing import Any, Optional

from hydra.errors import MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from optkit.errors import ConfigError
from optkit.hydra_private import compose_job


def culprit(hydra_app: Any, config_name: str, job: list[str]) -> Optional[str]:
    """The first override of `job` that makes composition fail (error path only)."""
    for i in range(len(job)):
        try:
            compose_job(hydra_app, config_name, job[: i + 1])
        except Exception:
            return job[i]
    return None


def config_error_from_hydra(err: Exception, overrides: list[str], bad: Optional[str] = None) -> ConfigError:
    """The `ConfigError` that says what Hydra's `err` says, naming the key."""
    if isinstance(err, MissingConfigException):
        missing = str(err.missing_cfg_file or "")
        group, _, option = missing.rpartition("/")
        return ConfigError(group or "config", "unknown option", option, err.options or [])
    cause = err.__cause__ or err.__context__
    if isinstance(cause, OmegaConfBaseException) or isinstance(err, OmegaConfBaseException):
        oc = cause if isinstance(cause, OmegaConfBaseException) else err
        key = oc.full_key or str(getattr(oc, "key", "") or "config")
        value = override_value(key, overrides)
        parent = getattr(oc, "parent_node", None)
        text = str(oc.msg if hasattr(oc, "msg") else oc).splitlines()[0]
        if "not in" in text or "not in struct" in text:
            choices = [str(k) for k in parent.keys()] if isinstance(parent, DictConfig) else []
            return ConfigError(key, f"unknown key (a new key is added with +{key}=...)", key.rsplit(".", 1)[-1],
                               choices)
        return ConfigError(key, text, value)
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if text.startswith("Could not override '"):
        key = text.split("'")[1]
        return ConfigError(key, "cannot be overridden here", override_value(key, overrides))
    if bad is not None:
        key, _, value = bad.lstrip("+~").partition("=")
        if "NoneType" in text:
            return ConfigError(key, "its parent is null here; set the whole node (e.g. grad=clip)", value)
        return ConfigError(key, text, value)
    return ConfigError("command line", text)


def override_value(key: str, overrides: list[str]) -> Any:
    for item in overrides:
        name, sep, value = item.lstrip("+~").partition("=")
        if sep and name == key:
            return value
    return None
