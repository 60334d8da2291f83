"""A chain of MMEngine parameter schedulers (`param_scheduler=[...]`) as per-step tables.

MMEngine's runner builds each scheduler with `end` defaulting to the train loop's
max_epochs (by_epoch) or max_iters (`Runner._build_param_scheduler`); `convert_to_iter_based`
multiplies `begin`, `end` and the step-valued arguments by the epoch length and makes the
scheduler per-iteration (`build_iter_from_epoch`, `int()` of begin and end). Building steps
each scheduler once, in list order (their step 0). `ParamSchedulerHook` then steps every
per-iteration scheduler after each iteration and every by-epoch one after each epoch, in
list order; a scheduler changes the group only while its own step counter is in
`[begin, end)`. `chain_tables` replays exactly that sequence, once, for the whole run, with
`optkit.schedule.phases` for each step, and returns the value every optimizer step uses.

Overlapping schedulers of one key compose as MMEngine composes them: each reads the value
the previous one wrote (chained form), so multiplicative ones multiply and an absolute
`eta_min` pulls every group towards the same value. Cost: one Python step per scheduler
event and group (a by-iteration cosine over 10^5 steps and 8 groups: about a second once,
at build time); the tables make the training step a lookup.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence

import numpy as np
from omegaconf import OmegaConf

from optkit.errors import ConfigError
from optkit.schedule.phases import PHASES, OneCycle, Phase
from optkit.schedule.policy import LrPolicy
from optkit.schedule.timeline import Timeline
from optkit.schedule.warmup import Warmup

SUFFIXES = {"LR": "lr", "Momentum": "momentum", "ParamScheduler": None}
COMMON = ("type", "param_name", "convert_to_iter_based")


@dataclass(frozen=True)
class Scheduled:
    """One resolved scheduler: the group key it writes, and its phase counted in its own unit."""

    key: str
    phase: Phase


def kind_of(name: str) -> tuple[type[Phase], str | None]:
    """`CosineAnnealingLR` → (CosineAnnealing, "lr"); `...ParamScheduler` → (phase, None: param_name)."""
    for suffix, key in SUFFIXES.items():
        if name.endswith(suffix) and name[: -len(suffix)] in PHASES:
            return PHASES[name[: -len(suffix)]], key
    choices = [f"{kind}{suffix}" for kind in PHASES for suffix in SUFFIXES]
    raise ConfigError("type", "is not an MMEngine parameter scheduler optkit has", name, choices)


def resolve(spec: Mapping[str, Any], timeline: Timeline) -> Scheduled:
    """One `param_scheduler` entry as MMEngine's runner builds it for this run."""
    spec = dict(spec)
    phase_type, key = kind_of(str(spec.get("type")))
    if key is None:
        key = spec.get("param_name")
        if not isinstance(key, str):
            raise ConfigError("param_name", f"is required by {spec['type']}", key)
    elif "param_name" in spec:
        raise ConfigError("param_name", f"{spec['type']} schedules {key}; use the ParamScheduler form", spec["param_name"])
    if phase_type is OneCycle and key != "lr":
        raise ConfigError("param_name", "OneCycle only schedules lr (MMEngine asserts it)", key)
    by_epoch = bool(spec.get("by_epoch", True))
    if spec.get("end") is None:
        spec["end"] = timeline.max_epochs if by_epoch else timeline.max_iters
    if spec.pop("convert_to_iter_based", False):
        if not by_epoch:
            raise ConfigError("convert_to_iter_based", "needs by_epoch: true (MMEngine asserts it)", True)
        spec = per_iteration(spec, phase_type, timeline.iters_per_epoch)
    names = {f.name for f in dataclasses.fields(phase_type)}
    unknown = sorted(set(spec) - names - set(COMMON))
    if unknown:
        raise ConfigError(unknown[0], f"is not an argument of {spec['type']}", spec[unknown[0]], sorted(names))
    phase = phase_type(**{k: v for k, v in spec.items() if k in names})
    if phase.end <= phase.begin:
        raise ConfigError("end", f"must be larger than begin ({phase.begin})", phase.end)
    if isinstance(phase, OneCycle) and phase.total_steps is not None and phase.total_steps < phase.span - 1:
        raise ConfigError("total_steps", f"is shorter than the scheduler's span ({phase.span} steps): MMEngine's "
                          "OneCycle raises ValueError past it", phase.total_steps)
    return Scheduled(key, phase)


def per_iteration(spec: dict[str, Any], phase_type: type[Phase], length: int) -> dict[str, Any]:
    """MMEngine's `build_iter_from_epoch`."""
    spec = dict(spec, by_epoch=False, begin=int(spec.get("begin", 0) * length), end=int(spec["end"] * length))
    for name in phase_type.STEP_FIELDS:
        value = spec.get(name)
        if isinstance(value, (list, tuple)):
            spec[name] = [v * length for v in value]
        elif value is not None:
            spec[name] = value * length
    return spec


def events(chain: Sequence[Scheduled], timeline: Timeline) -> list[tuple[int, int, int, int]]:
    """(first optimizer step that sees it, hook order, list order, the scheduler's own step) of
    every step that changes something, in the order MMEngine performs them."""
    out = []
    n, per_epoch = timeline.max_iters, timeline.iters_per_epoch
    for index, s in enumerate(chain):
        p = s.phase
        if p.begin == 0:
            out.append((0, 0, index, 0))  # built: step 0
        unit = per_epoch if p.by_epoch else 1
        last = (n - 1) // unit  # the last counter value that takes effect before the run ends
        for counter in range(max(p.begin, 1), min(p.end - 1, last) + 1):
            out.append((counter * unit, 2 if p.by_epoch else 1, index, counter - p.begin))
    out.sort()
    return out


def chain_tables(specs: Sequence[Mapping[str, Any]], bases: Mapping[str, Sequence[float]],
                 timeline: Timeline) -> dict[str, np.ndarray]:
    """table[key][g, i]: the value of `key` in param group g at optimizer step i, for every key
    some scheduler writes. `bases[key]` holds each group's value before scheduling (its
    `initial_<key>`)."""
    chain = []
    for i, spec in enumerate(specs):
        try:
            chain.append(resolve(spec, timeline))
        except ConfigError as err:
            raise err.under(f"param_scheduler.{i}") from None
    current: dict[str, list[float]] = {}
    own_bases: list[list[float]] = []
    for s in chain:
        if s.key not in bases:
            raise ConfigError(f"param_scheduler.{chain.index(s)}", f"the param groups have no {s.key!r} to schedule",
                              s.key)
        if s.key not in current:
            current[s.key] = [float(v) for v in bases[s.key]]
        own_bases.append(s.phase.start([float(v) for v in bases[s.key]]))
        if isinstance(s.phase, OneCycle):  # MMEngine sets initial_lr; later schedulers read it too
            bases = {**bases, s.key: own_bases[-1]}
    # Each key's values after every event, and the first step that sees them; expanded at the end.
    starts: dict[str, list[int]] = {key: [0] for key in current}
    rows: dict[str, list[list[float]]] = {key: [values] for key, values in current.items()}
    for at, _, index, k in events(chain, timeline):
        s = chain[index]
        values = s.phase.value(k, current[s.key], own_bases[index])
        current[s.key] = values
        if starts[s.key][-1] == at:
            rows[s.key][-1] = values
        else:
            starts[s.key].append(at)
            rows[s.key].append(values)
    return {key: np.repeat(np.asarray(rows[key]).T, np.diff([*starts[key], timeline.max_iters]), axis=1)
            for key in current}


@dataclass
class ChainCurve:
    """The schedulers of one group key as a `Curve` (optkit.schedule.curve): the chain is
    replayed once per set of group bases and read by step."""

    key: str
    specs: tuple[Mapping[str, Any], ...]
    warmup: Warmup = field(default_factory=Warmup)  # an MMCV warmup multiplying the chain (lr only)
    _tables: dict = field(default_factory=dict, compare=False, repr=False)

    def values(self, bases: np.ndarray, steps: np.ndarray, timeline: Timeline) -> np.ndarray:
        cache = (tuple(float(b) for b in bases), timeline)
        if cache not in self._tables:
            tables = chain_tables(self.specs, {self.key: cache[0]}, timeline)
            self._tables[cache] = tables.get(self.key, np.repeat(np.asarray(cache[0])[:, None], timeline.max_iters, 1))
        values = self._tables[cache][:, np.clip(steps, 0, timeline.max_iters - 1)]
        warm = self.warmup.length(timeline)
        if warm:
            values = np.where(steps < warm, values * self.warmup.factor(np.minimum(steps, warm), warm), values)
        return values

    def check(self, bases: Sequence[float], timeline: Timeline) -> None:
        """Per-group lists (OneCycle's eta_max) must match the groups."""
        self.values(np.asarray(bases, dtype=float), np.arange(1), timeline)


@dataclass
class Chain(LrPolicy):
    """`schedule=chain`: an MMEngine `param_scheduler` list (MMEngine's field names).

    Not an lr formula: `build_schedule` turns it into one `ChainCurve` per key its schedulers
    write (lr always, so that an empty list keeps every group's lr, as MMEngine without
    schedulers; `*Momentum` → momentum or beta1; `*ParamScheduler(param_name=...)` → that key).
    `by_epoch` is false because each scheduler says its own.
    """

    param_scheduler: List[Any] = field(default_factory=list)
    by_epoch: bool = False

    def __post_init__(self) -> None:
        self.param_scheduler = [plain(spec) for spec in self.param_scheduler]
        if self.by_epoch:
            raise ConfigError("by_epoch", "a chain has no by_epoch of its own: each param_scheduler entry has one",
                              self.by_epoch)

    def curves(self, timeline: Timeline, warmup: Optional[Warmup] = None) -> tuple[ChainCurve, ...]:
        """One curve per scheduled key, the schedulers of each in list order; an MMCV `warmup`
        multiplies the lr as it multiplies any policy's (MMEngine configs warm up with a
        LinearLR phase instead)."""
        keys: dict[str, list[Mapping[str, Any]]] = {"lr": []}
        for i, spec in enumerate(self.param_scheduler):
            try:
                key = resolve(spec, timeline).key
            except ConfigError as err:
                raise err.under(f"param_scheduler.{i}") from None
            keys.setdefault(key, []).append(spec)
        return tuple(ChainCurve(key, tuple(specs), warmup if key == "lr" and warmup else Warmup())
                     for key, specs in keys.items())


def plain(value: Any) -> Any:
    """An OmegaConf node (what Hydra's instantiate passes) as dicts and lists."""
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return dict(value) if isinstance(value, Mapping) else value
