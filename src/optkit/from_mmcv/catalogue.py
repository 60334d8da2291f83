"""What the shipped optkit options hold (conf/<group>/<option>.yaml and the policy
dataclasses' defaults), read by the key handlers and by the option matching."""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import yaml

from optkit.config import CONF_DIR
from optkit.from_mmcv.translation import plain


@lru_cache(maxsize=None)
def option_file(group: str, option: str) -> dict[str, Any]:
    """conf/<group>/<option>.yaml without its defaults list (the values it sets itself)."""
    data = yaml.safe_load((CONF_DIR / group / f"{option}.yaml").read_text()) or {}
    data.pop("defaults", None)
    return data


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@lru_cache(maxsize=None)
def torch_optimizer_options() -> dict[str, str]:
    """torch.optim class name → the conf/optimizer option that builds it."""
    found = {}
    for option in options("optimizer"):
        target = str(option_file("optimizer", option).get("_target_", ""))
        if target.startswith("torch.optim."):
            found[target.rsplit(".", 1)[1]] = option
    return found


def policy_default(policy: type, group: str, option: str, name: str) -> Any:
    """What field `name` of `<group>=<option>` holds when nothing sets it."""
    content = option_file(group, option)
    if name in content:
        return content[name]
    spec = next(f for f in dataclasses.fields(policy) if f.name == name)
    return spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()


def same(a: Any, b: Any) -> bool:
    return plain(a) == plain(b)
