"""The training job's side of a trial: report the validation metric after each evaluation
to the study the sweeper keeps in its storage, and learn whether the pruner stops the trial.

The sweeper tells each job its trial through three environment variables (set with
`hydra.job.env_set`, so they reach the job with every launcher: in-process, local
processes, SLURM) and stores the pruner's config in the study's user attributes, since
Optuna does not keep the pruner in the storage. A job that is not a trial of this sweeper
(no variables) reports nothing. A pruned job records the step it stopped at as the trial's
user attribute `pruned_at_step` and returns normally; the sweeper then tells the study that
the trial was pruned (Optuna takes its last reported value).
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional

ENV_STORAGE = "OPTKIT_OPTUNA_STORAGE"
ENV_STUDY = "OPTKIT_OPTUNA_STUDY"
ENV_TRIAL = "OPTKIT_OPTUNA_TRIAL_ID"
PRUNER_ATTR = "optkit_pruner"
PRUNED_ATTR = "pruned_at_step"


def job_env(storage: str, study_name: str, trial_id: int) -> dict[str, str]:
    return {ENV_STORAGE: storage, ENV_STUDY: study_name, ENV_TRIAL: str(trial_id)}


def current_trial(env: Mapping[str, str] = os.environ) -> Optional[Any]:
    """This job's `optuna.Trial`, with the sweep's pruner; None outside an Optuna sweep or in a
    multi-objective study (Optuna prunes single-objective studies only)."""
    if ENV_TRIAL not in env:
        return None
    import optuna
    from hydra.utils import instantiate

    study = optuna.load_study(study_name=env[ENV_STUDY], storage=env[ENV_STORAGE])
    if len(study.directions) > 1:
        return None
    pruner = study.user_attrs.get(PRUNER_ATTR)
    study.pruner = instantiate(pruner) if pruner else optuna.pruners.NopPruner()
    return optuna.trial.Trial(study, int(env[ENV_TRIAL]))


def report(trial: Any, value: float, step: int) -> bool:
    """Report `value` at `step`; True (and the step recorded) when the pruner stops the trial."""
    trial.report(value, step)
    if not trial.should_prune():
        return False
    trial.set_user_attr(PRUNED_ATTR, step)
    return True
