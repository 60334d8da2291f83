"""The sweeper's config schemas: `hydra/sweeper=optkit_optuna` (which optkit's preset
`optuna_search` extends), `hydra/sweeper/sampler=tpe|random|cmaes|grid|nsgaii|qmc` and
`hydra/sweeper/pruner=none|median|successive_halving|hyperband`.

Field names and defaults are Optuna's own (the sampler and pruner classes' keyword
arguments); only the common ones are listed, others are added with
`+hydra.sweeper.sampler.<arg>=...`. The sweeper fields keep hydra-optuna-sweeper's names.
(No `from __future__ import annotations`: Hydra's plugin scan executes this module without
registering it in sys.modules, where dataclasses look string annotations up.)
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TPESamplerConfig:
    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None
    n_startup_trials: int = 10  # random trials before TPE models the good ones


@dataclass
class RandomSamplerConfig:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None


@dataclass
class CmaEsSamplerConfig:
    _target_: str = "optuna.samplers.CmaEsSampler"  # needs the cmaes package (optkit[cmaes])
    seed: Optional[int] = None
    n_startup_trials: int = 1
    sigma0: Optional[float] = None


@dataclass
class GridSamplerConfig:
    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True  # the grid (search_space) is the sweep's, known when the sweep starts
    seed: Optional[int] = None


@dataclass
class NSGAIISamplerConfig:
    _target_: str = "optuna.samplers.NSGAIISampler"  # multi-objective (a list of directions)
    seed: Optional[int] = None
    population_size: int = 50


@dataclass
class QMCSamplerConfig:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: Optional[int] = None
    qmc_type: str = "sobol"


@dataclass
class NopPrunerConfig:
    _target_: str = "optuna.pruners.NopPruner"  # no pruning: every trial runs to its end


@dataclass
class MedianPrunerConfig:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5  # trials that finish before any is pruned
    n_warmup_steps: int = 0  # evaluations (epochs) of a trial before it may be pruned
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"  # epochs before the first rung ("auto": from the first finished trial)
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"  # the number of evaluations of a full trial ("auto": the first finished one's)
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.optkit_optuna.sweeper.OptunaSweeper"
    _recursive_: bool = False  # the sweeper builds the sampler (a grid needs the search space) and pruner itself
    defaults: List[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    sampler: Any = MISSING
    pruner: Any = MISSING
    direction: Any = "minimize"  # minimize | maximize, or a list of them for a multi-objective study
    storage: Optional[str] = None  # null: sqlite:///<sweep dir>/optuna.db; sqlite:///study.db keeps one study across sweeps
    study_name: Optional[str] = None  # null: Optuna makes one up (and prints it)
    n_trials: int = 20  # trials this sweep adds to the study
    n_jobs: int = 2  # trials asked for at once, launched together
    max_failure_rate: float = 0.0  # share of a batch allowed to fail before the sweep stops
    params: Optional[Dict[str, str]] = None  # key: sweep syntax (interval, tag(log, ...), int(...), choice, range)


STORE = ConfigStore.instance()
STORE.store(group="hydra/sweeper", name="optkit_optuna", node=OptunaSweeperConf, provider="optkit")
for name, node in {"tpe": TPESamplerConfig, "random": RandomSamplerConfig, "cmaes": CmaEsSamplerConfig,
                   "grid": GridSamplerConfig, "nsgaii": NSGAIISamplerConfig, "qmc": QMCSamplerConfig}.items():
    STORE.store(group="hydra/sweeper/sampler", name=name, node=node, provider="optkit")
for name, node in {"none": NopPrunerConfig, "median": MedianPrunerConfig,
                   "successive_halving": SuccessiveHalvingPrunerConfig, "hyperband": HyperbandPrunerConfig}.items():
    STORE.store(group="hydra/sweeper/pruner", name=name, node=node, provider="optkit")
