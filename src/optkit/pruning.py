"""Optuna pruning inside a training job: after each evaluation the validation accuracy goes
to the job's trial, and the pruner's answer decides whether training goes on.

Only a job of an Optuna sweep (`hydra/sweeper=optuna_search`, whose sweeper sets the job's
trial in its environment: `hydra_plugins.optkit_optuna.trial`) reports; any other run has
`TrialPruning.never()`. Under DDP rank 0 reports and every rank follows its answer.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from hydra_plugins.optkit_optuna import trial as optuna_trial

from optkit import distributed


class TrialPruning:
    def __init__(self, trial: Optional[Any], dist: distributed.DistInfo, enabled: bool) -> None:
        self.trial = trial
        self.dist = dist
        self.enabled = enabled  # the same on every rank: whether the job belongs to a study

    @classmethod
    def never(cls) -> "TrialPruning":
        return cls(None, distributed.DistInfo(), enabled=False)

    @classmethod
    def from_environment(cls, dist: distributed.DistInfo) -> "TrialPruning":
        enabled = optuna_trial.ENV_TRIAL in os.environ
        trial = optuna_trial.current_trial() if enabled and dist.is_main else None
        return cls(trial, dist, enabled=enabled)

    def should_stop(self, value: float, epoch: int, last: bool) -> bool:
        """Report `value` after `epoch` epochs; True when the trial is pruned (never after the
        run's last evaluation: that trial is complete)."""
        if not self.enabled:
            return False
        stop = False
        if self.trial is not None:
            if last:
                self.trial.report(value, epoch)
            else:
                stop = optuna_trial.report(self.trial, value, epoch)
        return bool(distributed.broadcast(stop, self.dist))
