"""The Optuna sweeper: ask the study for a batch of `n_jobs` trials, launch them with the
configured Hydra launcher (basic, local, SLURM), tell the study each trial's result.

The study lives in an RDB storage (`storage`, by default `sqlite:///<sweep dir>/optuna.db`)
so that the jobs, wherever they run, report their validation metric to it after each
evaluation and stop when the pruner says so (`trial.py`), and so that a later sweep with the
same `storage` and `study_name` continues the study. The best trial (the Pareto front of a
multi-objective study) goes to `<sweep dir>/optimization_results.yaml`, as
hydra-optuna-sweeper wrote it.
"""
from __future__ import annotations

import logging
import os
from typing import Any, List, Optional

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.optkit_optuna import space, trial as trial_env

log = logging.getLogger(__name__)


def absolute_storage(url: str) -> str:
    """A relative `sqlite:///path` made absolute, so jobs started elsewhere find the same file."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not os.path.isabs(url[len(prefix):]):
        return prefix + os.path.abspath(url[len(prefix):])
    return url


def quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class OptunaSweeper(Sweeper):
    def __init__(self, sampler: Any, pruner: Any, direction: Any, storage: Optional[str], study_name: Optional[str],
                 n_trials: int, n_jobs: int, max_failure_rate: float, params: Optional[DictConfig]) -> None:
        self.sampler_cfg = sampler
        self.pruner_cfg = pruner
        self.directions = list(direction) if OmegaConf.is_list(direction) or isinstance(direction, list) else [direction]
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params = params or {}
        self.job_idx = 0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context,
                                                                task_function=task_function)
        self.sweep_dir = str(config.hydra.sweep.dir)

    def sweep(self, arguments: List[str]) -> None:
        import optuna
        from hydra.utils import instantiate

        search, fixed = space.create_params_from_overrides(
            [f"{key}={value}" for key, value in self.params.items()] + list(arguments))
        n_trials = self.n_trials
        sampler = instantiate(self.sampler_cfg)
        if self.sampler_cfg._target_ == "optuna.samplers.GridSampler":
            values = space.grid(search)
            sampler = sampler(search_space=values)
            size = 1
            for choices in values.values():
                size *= len(choices)
            n_trials = min(n_trials, size)
        os.makedirs(self.sweep_dir, exist_ok=True)
        storage = absolute_storage(self.storage or f"sqlite:///{os.path.join(self.sweep_dir, 'optuna.db')}")
        study = optuna.create_study(study_name=self.study_name, storage=storage, sampler=sampler,
                                    pruner=instantiate(self.pruner_cfg), directions=self.directions,
                                    load_if_exists=True)
        study.set_user_attr(trial_env.PRUNER_ATTR, OmegaConf.to_container(self.pruner_cfg, resolve=True))
        log.info(f"Study {study.study_name} in {storage}: {type(sampler).__name__}, "
                 f"{type(study.pruner).__name__}, {', '.join(self.directions)}")
        to_go = n_trials
        while to_go > 0:
            batch = [study.ask(fixed_distributions=search) for _ in range(min(self.n_jobs, to_go))]
            overrides = [self.job_overrides(t, fixed, storage, study.study_name) for t in batch]
            self.validate_batch_is_legal(overrides)
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            stored = {t.number: t for t in study.get_trials(deepcopy=False)}  # what the jobs reported
            failures = [err for t, ret in zip(batch, returns)
                        if (err := self.tell(study, t, stored[t.number].user_attrs, ret)) is not None]
            if failures and len(failures) / len(returns) > self.max_failure_rate:
                log.error(f"{len(failures)} of {len(returns)} trials failed (max_failure_rate={self.max_failure_rate})")
                for ret in returns:
                    ret.return_value  # raises the failed job's own exception
            to_go -= len(batch)
        self.save_results(study)

    def job_overrides(self, trial: Any, fixed: dict[str, str], storage: str, study_name: str) -> list[str]:
        """The trial's sampled values and the fixed ones, then where the job reports to."""
        values = [f"{key}={value}" for key, value in trial.params.items()]
        values += [f"{key}={value}" for key, value in fixed.items()]
        env = trial_env.job_env(storage, study_name, trial._trial_id)
        return values + [f"++hydra.job.env_set.{name}={quoted(value)}" for name, value in env.items()]

    def tell(self, study: Any, trial: Any, user_attrs: dict, ret: Any) -> Optional[Exception]:
        """Record the job's outcome: PRUNED if it stopped on the pruner's word (Optuna takes
        its last reported value), COMPLETE with its return value(s), or FAIL (the exception
        is returned)."""
        import optuna

        state = optuna.trial.TrialState
        values = None
        if trial_env.PRUNED_ATTR in user_attrs:
            outcome = state.PRUNED
        else:
            try:
                value = ret.return_value
                values = [float(v) for v in value] if len(self.directions) > 1 else [float(value)]
                outcome = state.COMPLETE
            except Exception as err:
                study.tell(trial, state=state.FAIL)
                log.warning(f"trial {trial.number} failed: {err}")
                return err
        try:
            study.tell(trial, values, state=outcome)
        except RuntimeError as err:  # the grid sampler stops the study once the grid is done
            if "Study.stop" not in str(err):
                raise
        return None

    def save_results(self, study: Any) -> None:
        import optuna

        if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
            log.warning("no trial completed: no best trial")
            return
        if len(self.directions) == 1:
            best = study.best_trial
            results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
            log.info(f"Best value {best.value} with {best.params}")
        else:
            results = {"name": "optuna", "solutions": [{"params": t.params, "values": t.values}
                                                        for t in study.best_trials]}
        OmegaConf.save(OmegaConf.create(results), os.path.join(self.sweep_dir, "optimization_results.yaml"))
