"""The param-group keys a schedule drives, and where each group's base value comes from.

A scheduled key has one base, the optimizer's own value of it (`optimizer.defaults`, which
torch fills from the constructor's arguments, i.e. from the optimizer config), and every
group has a multiplier of it, kept in the group under the key's multiplier name:

    key            multiplier       base (optimizer.defaults)       written to the group
    lr             lr_mult          lr                              lr
    weight_decay   decay_mult       weight_decay                    weight_decay
    momentum       momentum_mult    momentum, else betas[0]         momentum, else betas[0]
                                                                    (beta2 kept: MMCV `_set_momentum`)
    <custom>       <custom>_mult    <custom>                        <custom>

A group's base is `base × multiplier`. optkit's constructors set `lr_mult` and `decay_mult`
where they build the groups (optim/groups.py); for groups that lack a multiplier (a
third-party constructor, a hand-built group list) it is derived once, from the group's value
when the optimizer is built or the Scheduler set up, and kept in the group, so it travels
with the optimizer state and a resumed run finds it. A multiplier is exact: `base × mult`
gives the group's value bit for bit wherever a float allows. Where the optimizer's value is
0 or absent (SGD's default momentum, an argument-free custom optimizer) the multiplier is
relative to 1, i.e. the group's own value.

A custom optimizer declares the further keys a schedule may drive in a class attribute,
`scheduled_keys = ("ema_decay",)`: every group holds the key and `defaults` its base.

Checkpoints written before multipliers kept the bases in the groups (`initial_lr`,
`initial_momentum`, as MMCV and torch's schedulers do); `pop_legacy` takes those out and the
multiplier is derived from them, so such a run resumes exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from optkit.errors import ConfigError
from optkit.schedule.momentum import current_momentum, momentum_key


def reference(base: Optional[float]) -> float:
    """What multipliers of a key are relative to: its base, or 1 where that is 0 or absent."""
    return float(base) if base else 1.0


def scaled(base: Optional[float], mult: float) -> float:
    """A group's base value: the key's base times the group's multiplier."""
    return reference(base) * mult


def multiplier(value: float, base: Optional[float]) -> float:
    """The multiplier `m` with `scaled(base, m) == value` exactly (`value / base` may miss it by
    one ulp), or where no float gives it exactly (the products of neighbouring multipliers can
    step over it) the nearest."""
    ref = reference(base)
    guess = value / ref
    candidates = (guess, math.nextafter(guess, math.inf), math.nextafter(guess, -math.inf))
    return min(candidates, key=lambda mult: abs(ref * mult - value))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class GroupKey:
    """A param-group hyper-parameter stored under its own name (lr, weight_decay, custom)."""

    name: str
    mult: str  # the group key of each group's multiplier
    legacy: Optional[str] = None  # where checkpoints before multipliers kept the group's base

    def slot(self, group: dict) -> str:
        """The group key the scheduler writes."""
        return self.name

    def read(self, group: dict) -> float:
        if self.name not in group:
            raise ConfigError("schedule", f"the optimizer's param groups have no `{self.name}` to schedule",
                              f"group keys {sorted(k for k in group if k != 'params')}")
        return group[self.name]

    def base(self, defaults: Mapping[str, Any]) -> Optional[float]:
        value = defaults.get(self.name)
        return float(value) if is_number(value) else None

    def column(self, group: dict, values: list[float]) -> list[Any]:
        """What the scheduler writes into `slot(group)` at each step, given the key's values."""
        return values


@dataclass(frozen=True)
class MomentumKey(GroupKey):
    """SGD-like `momentum`, or the Adam family's `betas[0]` with beta2 kept (MMCV `_set_momentum`)."""

    def slot(self, group: dict) -> str:
        return momentum_key(group)

    def read(self, group: dict) -> float:
        return current_momentum(group)

    def base(self, defaults: Mapping[str, Any]) -> Optional[float]:
        if "momentum" in defaults:
            return super().base(defaults)
        betas = defaults.get("betas")
        return float(betas[0]) if isinstance(betas, (tuple, list)) and is_number(betas[0]) else None

    def column(self, group: dict, values: list[float]) -> list[Any]:
        if momentum_key(group) == "momentum":
            return values
        beta2 = group["betas"][1]
        return [(value, beta2) for value in values]


KEYS: dict[str, GroupKey] = {
    "lr": GroupKey("lr", "lr_mult", legacy="initial_lr"),
    "momentum": MomentumKey("momentum", "momentum_mult", legacy="initial_momentum"),
    "weight_decay": GroupKey("weight_decay", "decay_mult"),
}


def group_key(name: str) -> GroupKey:
    """The built-in key `name`, or a custom one (multiplier `<name>_mult`)."""
    return KEYS.get(name) or GroupKey(name, f"{name}_mult")


def check_declared(optimizer: Any, names: Sequence[str]) -> None:
    """A key beyond lr, momentum and weight_decay must be declared by the optimizer class
    (`scheduled_keys`): a misspelt key is an error, not a value nobody reads."""
    declared = tuple(getattr(type(optimizer), "scheduled_keys", ()))
    for name in names:
        if name not in KEYS and name not in declared:
            raise ConfigError("schedule", f"{type(optimizer).__name__} declares no scheduled key `{name}` "
                              f"(class attribute scheduled_keys: {list(declared)}; built in: {list(KEYS)})", name)


def pop_legacy(groups: Sequence[dict]) -> list[dict[str, float]]:
    """Take each group's bases as checkpoints before multipliers kept them ({key: value})."""
    return [{key.name: group.pop(key.legacy) for key in KEYS.values() if key.legacy and key.legacy in group}
            for group in groups]


def group_bases(groups: Sequence[dict], defaults: Mapping[str, Any], key: GroupKey,
                legacy: Optional[Sequence[Mapping[str, float]]] = None) -> list[float]:
    """Each group's base of `key` (`base × multiplier`), deriving the multiplier of a group
    that has none from its legacy base or its current value, once: it stays in the group."""
    base = key.base(defaults)
    bases = []
    for i, group in enumerate(groups):
        if key.mult not in group:
            old = legacy[i].get(key.name) if legacy else None
            group[key.mult] = multiplier(key.read(group) if old is None else old, base)
        bases.append(scaled(base, group[key.mult]))
    return bases


def derive_multipliers(optimizer: Any) -> None:
    """`lr_mult` and `decay_mult` for the groups of a constructor that did not set them."""
    for name in ("lr", "weight_decay"):
        groups = [group for group in optimizer.param_groups if name in group]
        group_bases(groups, optimizer.defaults, KEYS[name])
