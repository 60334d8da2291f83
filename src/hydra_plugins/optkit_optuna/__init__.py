"""optkit's Optuna sweeper for Hydra (`hydra/sweeper=optuna_search`), on Optuna >= 4.

It replaces hydra-optuna-sweeper, whose last release needs Optuna 2.x, keeping its
command-line syntax (`interval`, `tag(log, ...)`, `int(...)`, `choice`, `range`) and its
`hydra/sweeper/sampler` options, and adds pruning: each training job reports its validation
metric to the study after every evaluation and stops when the pruner says so
(`trial.py`). Modules: `config` (the schemas in Hydra's ConfigStore), `space` (override →
Optuna distribution), `sweeper` (the ask/tell loop), `trial` (the job's side).
Hydra imports every module here when it scans for plugins, so none imports Optuna at the
top: `--help` stays fast.
"""
