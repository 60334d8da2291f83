"""The search space from Hydra's sweep syntax, as hydra-optuna-sweeper read it.

    choice(a, b, c)                 categorical
    range(start, stop[, step])      integers (floats if any bound is a float) on that grid;
                                    `stop` is excluded, as everywhere in Hydra
    interval(a, b)                  uniform floats; ints when both ends are ints, e.g. int(interval(1, 9))
    tag(log, interval(a, b))        log-uniform
    key=value                       a fixed value, the same for every trial

Differences from the old plugin: Optuna >= 3 distributions (`FloatDistribution`,
`IntDistribution` with `log` and `step`) instead of the removed `LogUniformDistribution` and
friends, and `range`'s `stop` excluded (the old plugin included it, unlike Hydra's basic
sweeper, so the same override swept different values with the two sweepers).
"""
from __future__ import annotations

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer


def distribution(override: Override) -> Any:
    """The Optuna distribution `override` asks for, or its value as a string if it is fixed."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if all(isinstance(v, int) for v in (value.start, value.stop, value.step)):
            return IntDistribution(values[0], values[-1], step=value.step)
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    log = "log" in value.tags
    if isinstance(value.start, int) and isinstance(value.end, int):
        return IntDistribution(value.start, value.end, log=log)
    return FloatDistribution(float(value.start), float(value.end), log=log)


def create_params_from_overrides(arguments: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(search space: key → distribution, fixed values: key → string) of these overrides;
    a later override of a key replaces an earlier one (the command line after the preset's
    `params`)."""
    space: dict[str, Any] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        found = distribution(override)
        if isinstance(found, str):
            fixed[key] = found
        else:
            space[key] = found
    return space, fixed


def grid(space: dict[str, Any]) -> dict[str, list]:
    """Every value of each key, for Optuna's GridSampler: choices and ranges only (an
    interval has no grid; ValueError names the key)."""
    from optuna.distributions import CategoricalDistribution

    values: dict[str, list] = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[key] = list(dist.choices)
        elif getattr(dist, "step", None) is not None and not getattr(dist, "log", False):
            n = int(round((dist.high - dist.low) / dist.step)) + 1
            values[key] = [type(dist.low)(dist.low + i * dist.step) for i in range(n)]
        else:
            raise ValueError(f"{key}: the grid sampler takes choice(...) or range(...), not an interval")
    return values
