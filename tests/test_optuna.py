"""Optuna sweeps: the `hydra/sweeper=optuna_search` preset, the pre-Hydra check of Optuna's
sweep syntax and of `hydra.sweeper.params`, and real 4-trial studies on digits (slow) with the
basic, the local submitit and the SLURM launcher, ranked by scripts/sweep_summary.py.
The sweeper is optkit's own (src/hydra_plugins/optkit_optuna, Optuna >= 4): the preset's
distributions are Optuna 3+'s `FloatDistribution(log=True)` / `IntDistribution` where
hydra-optuna-sweeper built the removed `LogUniformDistribution` / `IntUniformDistribution`."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import optuna
import pytest
import yaml
from hydra_plugins.optkit_optuna.space import create_params_from_overrides
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from optkit.cli import check_command_line, job_overrides
from optkit.config import CONF_DIR
from optkit.errors import ConfigError
from tests.conftest import REPO, run_train
from tests.slurm_cluster import cancel

PRESET = "hydra/sweeper=optuna_search"
# the preset's other keys fixed, so that each check composes few jobs
NARROW = [PRESET, "schedule=cosine", "optimizer.weight_decay=0.01", "warmup.iters=5"]


def preset_params() -> dict[str, str]:
    return yaml.safe_load((CONF_DIR / "hydra" / "sweeper" / "optuna_search.yaml").read_text())["params"]


def test_preset_search_space_is_what_optuna_samples():
    """lr and weight decay log-uniform, warmup iterations an int, the schedule a choice."""
    params = preset_params()
    space, fixed = create_params_from_overrides([f"{k}={v}" for k, v in params.items()])
    assert space["optimizer.lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert space["optimizer.weight_decay"] == FloatDistribution(1e-6, 1e-1, log=True)
    assert space["warmup.iters"] == IntDistribution(1, 200)
    assert isinstance(space["schedule"], CategoricalDistribution) and set(space["schedule"].choices) == {
        "cosine", "step", "linear"}
    assert fixed == {"warmup": "linear"}


def test_intervals_are_checked_at_both_ends():
    jobs = job_overrides(["a=tag(log, interval(1e-4, 0.1))", "b=int(interval(1, 200))", "c=1"], multirun=True)
    assert jobs == [["c=1", "a=0.0001", "b=1"], ["c=1", "a=0.0001", "b=200"], ["c=1", "a=0.1", "b=1"],
                    ["c=1", "a=0.1", "b=200"]]
    assert job_overrides(["a=interval(1, 2)"], multirun=False) == [["a=interval(1, 2)"]]


@pytest.mark.parametrize("args", [
    [PRESET],  # the whole search space of the preset
    [*NARROW, "optimizer.lr=tag(log, interval(1e-3, 1e-2))"],
    [PRESET, "schedule=choice(step, cosine)", "optimizer.lr=0.01", "optimizer.weight_decay=0.01", "warmup.iters=9"],
    [*NARROW, "~hydra.sweeper.params.schedule", "hydra.sweeper.n_trials=3", "hydra/sweeper/sampler=random"],
    [*NARROW, "warmup=none", "warmup.iters=int(interval(0, 5))"],  # no warmup: iters unused, 0 is fine
])
def test_good_sweeps_pass_the_check(args):
    check_command_line(["-m", *args])


@pytest.mark.parametrize("args,key", [
    ([*NARROW, "optimizer.lr=tag(log, interval(-1, 0.1))"], "optimizer.lr"),  # an end out of range
    ([*NARROW, "schedule=choice(cosine, stepp)"], "schedule"),
    ([*NARROW, "warmup.iters=interval(1, 10)"], "warmup.iters"),  # floats: int(interval(1, 10)) is meant
    ([*NARROW, "optimizer.lrr=tag(log, interval(1e-3, 1e-2))"], "optimizer.lrr"),
    ([*NARROW, "hydra.sweeper.n_trails=3"], "hydra.sweeper.n_trails"),
    (["optimizer.lr=interval(0.001, 0.01)"], "optimizer.lr"),  # the basic sweeper cannot sample it
    ([*NARROW, "warmup.iters=int(interval(0, 5))"], "warmup.iters"),  # 0: a linear warmup needs iters > 0
])
def test_bad_sweeps_fail_the_check_naming_the_key(args, key):
    with pytest.raises(ConfigError) as err:
        check_command_line(["-m", *args])
    assert err.value.key == key


def test_a_bad_value_in_the_preset_is_found(tmp_path):
    """A search space given in hydra.sweeper.params (here a config dir's own preset) is
    checked like one on the command line."""
    (tmp_path / "hydra" / "sweeper").mkdir(parents=True)
    (tmp_path / "hydra" / "sweeper" / "mine.yaml").write_text(
        "defaults: [optuna_search, _self_]\nparams:\n  optimizer.momentum: interval(0.5, 1.5)\n")
    with pytest.raises(ConfigError) as err:
        check_command_line(["-m", f"--config-dir={tmp_path}", "hydra/sweeper=mine", *NARROW[1:], "optimizer=sgd"])
    assert err.value.key == "optimizer.momentum" and err.value.got == 1.5


# --- real studies ------------------------------------------------------------------------------


def best_val_acc(trial_dir) -> float:
    records = [json.loads(line) for line in (trial_dir / "metrics.jsonl").read_text().splitlines()]
    return max(r["val/acc"] for r in records if r["kind"] == "val")


def study(tmp_path, launcher: list[str]) -> tuple[dict, dict[int, tuple[list[str], float]]]:
    """Run a 4-trial study on digits (1 epoch each); return optimization_results.yaml and,
    per trial directory, its overrides and best validation accuracy."""
    sweep = tmp_path / "sweep"
    args = ["-m", PRESET, *launcher, "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", "model=mlp",
            "trainer.max_epochs=1", "trainer.device=cpu", "logging.tensorboard=false",
            "warmup.iters=int(interval(1, 20))", f"hydra.sweep.dir={sweep}",
            f"hydra.sweeper.storage=sqlite:///{tmp_path}/study.db", "hydra.sweeper.study_name=digits"]
    proc = run_train(args, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    trials = {}
    for num in range(4):
        trial_dir = sweep / str(num)
        overrides = yaml.safe_load((trial_dir / ".hydra" / "overrides.yaml").read_text())
        trials[num] = (overrides, best_val_acc(trial_dir))
    return results, trials


def check_study(tmp_path, results, trials) -> None:
    """The sweeper got each trial's best validation accuracy (the study's stored values), and
    the best trial's parameters and value are in optimization_results.yaml."""
    stored = optuna.load_study(study_name="digits", storage=f"sqlite:///{tmp_path}/study.db")
    assert [t.state for t in stored.trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert [t.value for t in stored.trials] == [trials[n][1] for n in range(4)]
    best = max(trials, key=lambda n: trials[n][1])
    assert results["best_value"] == trials[best][1]
    assert set(results["best_params"]) == {"optimizer.lr", "optimizer.weight_decay", "warmup.iters", "schedule"}
    overrides = trials[best][0]
    for key, value in results["best_params"].items():
        assert f"{key}={value}" in overrides
    assert "warmup=linear" in overrides
    check_summary(tmp_path / "sweep", trials, results)


def check_summary(sweep, trials, results) -> None:
    """sweep_summary ranks the trials by best validation accuracy and names the study's best."""
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "sweep_summary.py"), str(sweep)],
                         capture_output=True, text=True, check=True).stdout
    with open(sweep / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    ranked = [float(row["best_val_acc"]) for row in rows]
    assert ranked == sorted((acc for _, acc in trials.values()), reverse=True)
    assert all(row["status"] == "done" for row in rows)
    best_line = [line for line in out.splitlines() if line.startswith("study best:")]
    assert len(best_line) == 1 and all(f"{k}={v}" in best_line[0] for k, v in results["best_params"].items())


@pytest.mark.slow
def test_study_with_the_basic_launcher(tmp_path):
    check_study(tmp_path, *study(tmp_path, []))


@pytest.mark.slow
def test_study_with_the_local_submitit_launcher(tmp_path):
    check_study(tmp_path, *study(tmp_path, ["hydra/launcher=submitit_local", "hydra.launcher.gpus_per_node=0"]))


@pytest.mark.slow
def test_study_on_slurm(slurm_cluster, tmp_path):
    """The same study, each trial a job of the `slurm` launcher preset on the real cluster."""
    try:
        check_study(tmp_path, *study(tmp_path, ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1"]))
    except BaseException:
        cancel(tmp_path / "sweep")
        raise


# --- pruning, samplers, a study continued --------------------------------------------------


def val_accs(trial_dir) -> list[float]:
    records = [json.loads(line) for line in (trial_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["val/acc"] for r in records if r["kind"] == "val"]


def last_event(trial_dir) -> dict:
    records = [json.loads(line) for line in (trial_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] in ("done", "pruned")][-1]


def lr_sweep(tmp_path, name: str, *extra: str, epochs: int = 1) -> subprocess.CompletedProcess:
    """A study of the lr alone (mlp on digits, `epochs` each), in `tmp_path/study.db`."""
    args = ["-m", PRESET, "model=mlp", f"trainer.max_epochs={epochs}", "trainer.device=cpu",
            "logging.tensorboard=false", "logging.progress=false", "schedule=cosine", "optimizer.weight_decay=0.01",
            "warmup.iters=5", "optimizer.lr=tag(log, interval(1e-5, 1e-1))", f"hydra.sweep.dir={tmp_path / name}",
            f"hydra.sweeper.storage=sqlite:///{tmp_path}/study.db", "hydra.sweeper.study_name=lr", *extra]
    proc = run_train(args, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_pruned_trials_stop_early_and_are_recorded_as_pruned(tmp_path):
    """Median pruning after each epoch: a trial whose validation accuracy falls below the
    median of the earlier trials at the same epoch stops there. The study holds each trial's
    per-epoch accuracies (the numbers in its metrics.jsonl), a pruned trial is PRUNED with its
    last reported accuracy as its value and stopped before the last epoch, and a later sweep
    with the same storage and study name continues the study."""
    epochs = 3
    lr_sweep(tmp_path, "first", "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=1",
             "hydra.sweeper.n_trials=4", epochs=epochs)
    study_ = optuna.load_study(study_name="lr", storage=f"sqlite:///{tmp_path}/study.db")
    states = [t.state for t in study_.trials]
    assert len(states) == 4 and optuna.trial.TrialState.PRUNED in states
    assert states[0] == optuna.trial.TrialState.COMPLETE
    for t in study_.trials:
        trial_dir = tmp_path / "first" / str(t.number)
        accs = val_accs(trial_dir)
        assert [t.intermediate_values[e] for e in sorted(t.intermediate_values)] == accs
        if t.state == optuna.trial.TrialState.PRUNED:
            assert len(accs) < epochs and t.value == accs[-1]
            event = last_event(trial_dir)
            assert (event["kind"], event["epoch"]) == ("pruned", len(accs))
            assert t.user_attrs["pruned_at_step"] == len(accs)
        else:
            assert len(accs) == epochs and t.value == max(accs) and last_event(trial_dir)["kind"] == "done"
    subprocess.run([sys.executable, str(REPO / "scripts" / "sweep_summary.py"), str(tmp_path / "first")],
                   capture_output=True, text=True, check=True)
    with open(tmp_path / "first" / "summary.csv") as f:
        statuses = {int(row["job"]): row["status"] for row in csv.DictReader(f)}
    assert statuses == {t.number: "pruned" if t.state == optuna.trial.TrialState.PRUNED else "done"
                        for t in study_.trials}

    lr_sweep(tmp_path, "second", "hydra.sweeper.n_trials=1")
    assert len(optuna.load_study(study_name="lr", storage=f"sqlite:///{tmp_path}/study.db").trials) == 5


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["random", "cmaes", "grid"])
def test_samplers(tmp_path, sampler):
    """Each sampler runs a real study; the grid sampler visits every point of its grid once
    (and caps n_trials at the grid's size)."""
    grid = ["optimizer.lr=choice(0.1, 0.01)", "schedule=choice(cosine, step)"] if sampler == "grid" else []
    lr_sweep(tmp_path, "s", f"hydra/sweeper/sampler={sampler}", "hydra.sweeper.n_trials=5" if grid else
             "hydra.sweeper.n_trials=2", *grid)
    trials = optuna.load_study(study_name="lr", storage=f"sqlite:///{tmp_path}/study.db").trials
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert [t.value for t in trials] == [max(val_accs(tmp_path / "s" / str(t.number))) for t in trials]
    if sampler == "grid":
        assert sorted((t.params["optimizer.lr"], t.params["schedule"]) for t in trials) == [
            (0.01, "cosine"), (0.01, "step"), (0.1, "cosine"), (0.1, "step")]
    else:
        assert len(trials) == 2 and len({t.params["optimizer.lr"] for t in trials}) == 2


@pytest.mark.slow
def test_cmaes_without_its_package_is_one_line(tmp_path):
    """CMA-ES needs the optional cmaes package; without it the sweep stops before it starts."""
    code = ("import sys; sys.modules['cmaes'] = None; sys.argv = ['train.py'] + sys.argv[1:]; "
            "from optkit.cli import train_main; train_main()")
    proc = subprocess.run([sys.executable, "-c", code, "-m", *NARROW, "hydra/sweeper/sampler=cmaes",
                           f"hydra.sweep.dir={tmp_path / 's'}"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "s").exists()
    assert proc.stderr.strip().splitlines() == [
        "optkit: config error: hydra/sweeper/sampler: CMA-ES needs the cmaes package: pip install 'optkit[cmaes]' "
        "(got 'cmaes')"]


@pytest.mark.parametrize("args,key", [
    ([*NARROW, "hydra/sweeper/sampler=grid", "optimizer.lr=tag(log, interval(1e-3, 1e-2))"], "optimizer.lr"),
])
def test_a_grid_needs_choices_or_ranges(args, key):
    with pytest.raises(ConfigError) as err:
        check_command_line(["-m", *args])
    assert err.value.key == key
