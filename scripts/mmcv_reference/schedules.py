"""Reference lr and momentum curves from real MMCV 1.7.2 hooks, for tests/test_schedule_mmcv.py.

MMCV is not an optkit dependency. Run this with a throw-away virtualenv that has it
(recipe in MMCV_SEMANTICS.md, "Running MMCV 1.7.2 on this machine"):

    /tmp/mmcv-venv/bin/python scripts/mmcv_reference/schedules.py [-o tests/fixtures/mmcv_schedules.json]

Each case pairs an MMCV `lr_config` / `momentum_config` with the optkit command-line
overrides meant to reproduce it. The hooks are driven by a minimal stand-in for
EpochBasedRunner in MMCV's own order (`before_run`; per epoch `before_train_epoch`; per
iteration `before_train_iter`; the lr hook before the momentum hook, as their priorities
VERY_HIGH and HIGH order them), and the value of every group is recorded at each
iteration, after both hooks ran: the value that iteration's optimizer step uses.
Error cases record the exception MMCV raises (at construction or while running).
"""
from __future__ import annotations

import argparse
import copy
import json
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
import mmcv  # noqa: E402
from mmcv.runner.hooks import HOOKS  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "mmcv_schedules.json"

# Three param groups with different base lrs (as paramwise multipliers make) and momenta.
# The smallest lr sits below the usual absolute min_lr, to show that min_lr raises it.
GROUPS = {
    "sgd": [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.03, "momentum": 0.8}, {"lr": 1e-5, "momentum": 0.95}],
    "adam": [{"lr": 1e-3, "betas": [0.9, 0.999]}, {"lr": 3e-4, "betas": [0.8, 0.99]},
             {"lr": 1e-6, "betas": [0.95, 0.999]}],
}


def case(name, lr=None, momentum=None, *, optkit, epochs=6, iters=5, optimizer="sgd", every=1):
    """`every` > 1 records a sample of iterations (every n-th plus the first and last 40,
    the epoch starts and the warmup end), to keep long runs small in the fixture."""
    return dict(name=name, lr_config=lr, momentum_config=momentum, epochs=epochs, iters_per_epoch=iters,
                optimizer=optimizer, optkit=optkit, every=every)


CASES = [
    # --- lr policies, by epoch (MMCV's default) and by iteration --------------------------------
    case("fixed", dict(policy="fixed"), optkit=["schedule=fixed"]),
    case("step_int", dict(policy="step", step=2, gamma=0.5), optkit=["schedule=step", "schedule.step=2",
                                                                     "schedule.gamma=0.5"]),
    case("step_list_iter_min_lr", dict(policy="step", step=[7, 19], min_lr=1e-3, by_epoch=False),
         optkit=["schedule=step", "schedule.step=[7,19]", "schedule.min_lr=1e-3", "schedule.by_epoch=false"]),
    case("tutorial_step_100_150", dict(policy="step", step=[100, 150]), epochs=200, iters=2,
         optkit=["schedule=step", "schedule.step=[100,150]"]),
    case("exp_epoch", dict(policy="exp", gamma=0.9), optkit=["schedule=exp", "schedule.gamma=0.9"]),
    case("exp_iter", dict(policy="exp", gamma=0.97, by_epoch=False),
         optkit=["schedule=exp", "schedule.gamma=0.97", "schedule.by_epoch=false"]),
    case("poly_epoch", dict(policy="poly", power=2.0, min_lr=1e-3),
         optkit=["schedule=poly", "schedule.power=2.0", "schedule.min_lr=1e-3"]),
    case("tutorial_poly", dict(policy="poly", power=0.9, min_lr=1e-4, by_epoch=False),
         optkit=["schedule=poly", "schedule.power=0.9", "schedule.min_lr=1e-4", "schedule.by_epoch=false"]),
    case("inv_iter", dict(policy="inv", gamma=0.1, power=0.75, by_epoch=False),
         optkit=["schedule=inv", "schedule.gamma=0.1", "schedule.power=0.75", "schedule.by_epoch=false"]),
    case("inv_epoch", dict(policy="inv", gamma=0.5), optkit=["schedule=inv", "schedule.gamma=0.5"]),
    case("tutorial_cosine_ratio", dict(policy="CosineAnnealing", min_lr_ratio=1e-5),
         optkit=["schedule=cosine", "schedule.min_lr_ratio=1e-5"]),
    case("cosine_iter_min_lr", dict(policy="CosineAnnealing", min_lr=1e-3, by_epoch=False),
         optkit=["schedule=cosine", "schedule.min_lr=1e-3", "schedule.by_epoch=false"]),
    case("flat_cosine_epoch_bankers", dict(policy="FlatCosineAnnealing", start_percent=0.5, min_lr_ratio=0.01),
         epochs=5, optkit=["schedule=flat_cosine", "schedule.start_percent=0.5", "schedule.min_lr_ratio=0.01"]),
    case("flat_cosine_iter", dict(policy="FlatCosineAnnealing", min_lr=1e-4, by_epoch=False),
         optkit=["schedule=flat_cosine", "schedule.min_lr=1e-4", "schedule.by_epoch=false"]),
    case("cosine_restart_epoch", dict(policy="CosineRestart", periods=[2, 4], restart_weights=[1, 0.5], min_lr=1e-4),
         optkit=["schedule=cosine_restart", "schedule.periods=[2,4]", "schedule.restart_weights=[1,0.5]",
                 "schedule.min_lr=1e-4"]),
    case("cosine_restart_iter", dict(policy="CosineRestart", periods=[10, 25], restart_weights=[1, 0.7],
                                     min_lr_ratio=0.1, by_epoch=False),
         optkit=["schedule=cosine_restart", "schedule.periods=[10,25]", "schedule.restart_weights=[1,0.7]",
                 "schedule.min_lr_ratio=0.1", "schedule.by_epoch=false"]),
    case("cyclic_times_3_leftover_linear_gamma", dict(policy="cyclic", target_ratio=(8, 1e-3), cyclic_times=3,
                                                      step_ratio_up=0.3, anneal_strategy="linear", gamma=0.5),
         epochs=4, iters=8,
         optkit=["schedule=cyclic", "schedule.target_ratio=[8,1e-3]", "schedule.cyclic_times=3",
                 "schedule.step_ratio_up=0.3", "schedule.anneal_strategy=linear", "schedule.gamma=0.5"]),
    case("cyclic_up_zero_gamma", dict(policy="cyclic", target_ratio=(5, 0.1), cyclic_times=2, step_ratio_up=0.0,
                                      gamma=0.6),
         optkit=["schedule=cyclic", "schedule.target_ratio=[5,0.1]", "schedule.cyclic_times=2",
                 "schedule.step_ratio_up=0.0", "schedule.gamma=0.6"]),
    case("cyclic_float_ratio", dict(policy="cyclic", target_ratio=5.0),
         optkit=["schedule=cyclic", "schedule.target_ratio=5.0"]),
    case("onecycle", dict(policy="OneCycle", max_lr=0.5), optkit=["schedule=onecycle", "schedule.max_lr=0.5"]),
    case("onecycle_three_phase_list_total_steps", dict(policy="OneCycle", max_lr=[0.5, 0.1, 0.05], total_steps=40,
                                                       pct_start=0.25, anneal_strategy="linear", div_factor=10,
                                                       final_div_factor=100, three_phase=True),
         optkit=["schedule=onecycle", "schedule.max_lr=[0.5,0.1,0.05]", "schedule.total_steps=40",
                 "schedule.pct_start=0.25", "schedule.anneal_strategy=linear", "schedule.div_factor=10",
                 "schedule.final_div_factor=100", "schedule.three_phase=true"]),
    case("onecycle_pct_zero", dict(policy="OneCycle", max_lr=0.2, pct_start=0.0),
         optkit=["schedule=onecycle", "schedule.max_lr=0.2", "schedule.pct_start=0.0"]),
    case("linear_epoch", dict(policy="LinearAnnealing", min_lr_ratio=0.05),
         optkit=["schedule=linear", "schedule.min_lr_ratio=0.05"]),
    case("linear_iter_min_lr", dict(policy="LinearAnnealing", min_lr=1e-3, by_epoch=False),
         optkit=["schedule=linear", "schedule.min_lr=1e-3", "schedule.by_epoch=false"]),
    # --- warmup: every kind, per iteration and by epoch ------------------------------------------
    *[case(f"warmup_{kind}_iter_policy", dict(policy="CosineAnnealing", min_lr_ratio=0.01, by_epoch=False,
                                              warmup=kind, warmup_iters=7, warmup_ratio=0.2),
           optkit=["schedule=cosine", "schedule.min_lr_ratio=0.01", "schedule.by_epoch=false", f"warmup={kind}",
                   "warmup.iters=7", "warmup.ratio=0.2"]) for kind in ("constant", "linear", "exp")],
    *[case(f"warmup_{kind}_epoch_policy_jump", dict(policy="step", step=[1, 3], warmup=kind, warmup_iters=8,
                                                    warmup_ratio=0.3),
           optkit=["schedule=step", "schedule.step=[1,3]", f"warmup={kind}", "warmup.iters=8", "warmup.ratio=0.3"])
      for kind in ("constant", "linear", "exp")],
    case("warmup_by_epoch_iter_policy", dict(policy="poly", power=1.0, by_epoch=False, warmup="linear",
                                             warmup_iters=2, warmup_ratio=0.1, warmup_by_epoch=True),
         optkit=["schedule=poly", "schedule.by_epoch=false", "warmup=linear", "warmup.iters=2", "warmup.ratio=0.1",
                 "warmup.by_epoch=true"]),
    case("tutorial_warmup_linear_iter", dict(policy="CosineAnnealing", by_epoch=False, min_lr_ratio=1e-2,
                                             warmup="linear", warmup_ratio=1e-3, warmup_iters=20 * 1252,
                                             warmup_by_epoch=False),
         epochs=25, iters=1252, every=97,
         optkit=["schedule=cosine", "schedule.by_epoch=false", "schedule.min_lr_ratio=1e-2", "warmup=linear",
                 "warmup.ratio=1e-3", "warmup.iters=25040", "warmup.by_epoch=false"]),
    case("tutorial_warmup_exp_by_epoch", dict(policy="CosineAnnealing", min_lr=0, warmup="exp", warmup_iters=5,
                                              warmup_ratio=0.1, warmup_by_epoch=True),
         epochs=12, iters=4,
         optkit=["schedule=cosine", "schedule.min_lr=0", "warmup=exp", "warmup.iters=5", "warmup.ratio=0.1",
                 "warmup.by_epoch=true"]),
    case("warmup_longer_than_run", dict(policy="fixed", warmup="linear", warmup_iters=40, warmup_ratio=0.5),
         optkit=["schedule=fixed", "warmup=linear", "warmup.iters=40", "warmup.ratio=0.5"]),
    case("warmup_on_cyclic", dict(policy="cyclic", warmup="exp", warmup_iters=6, warmup_ratio=0.25),
         optkit=["schedule=cyclic", "warmup=exp", "warmup.iters=6", "warmup.ratio=0.25"]),
    case("warmup_on_onecycle", dict(policy="OneCycle", max_lr=0.3, warmup="linear", warmup_iters=4),
         optkit=["schedule=onecycle", "schedule.max_lr=0.3", "warmup=linear", "warmup.iters=4", "warmup.ratio=0.1"]),
    # --- momentum ---------------------------------------------------------------------------------
    case("tutorial_cyclic_pair", dict(policy="cyclic", target_ratio=(10, 1e-4), cyclic_times=1, step_ratio_up=0.4),
         dict(policy="cyclic", target_ratio=(0.85 / 0.95, 1), cyclic_times=1, step_ratio_up=0.4), epochs=4, iters=25,
         optkit=["schedule=cyclic", "schedule.target_ratio=[10,1e-4]", "schedule.cyclic_times=1",
                 "schedule.step_ratio_up=0.4", "momentum=cyclic", "momentum.target_ratio=[0.8947368421052632,1]",
                 "momentum.cyclic_times=1", "momentum.step_ratio_up=0.4"]),
    case("tutorial_cyclic_pair_adam", dict(policy="cyclic", target_ratio=(10, 1e-4), cyclic_times=1,
                                           step_ratio_up=0.4),
         dict(policy="cyclic", target_ratio=(0.85 / 0.95, 1), cyclic_times=1, step_ratio_up=0.4), optimizer="adam",
         optkit=["schedule=cyclic", "momentum=cyclic"]),
    case("momentum_cyclic_times_gamma", dict(policy="cyclic", cyclic_times=2, gamma=0.8),
         dict(policy="cyclic", cyclic_times=2, gamma=0.8, anneal_strategy="linear", step_ratio_up=0.5),
         optkit=["schedule=cyclic", "schedule.cyclic_times=2", "schedule.gamma=0.8", "momentum=cyclic",
                 "momentum.cyclic_times=2", "momentum.gamma=0.8", "momentum.anneal_strategy=linear",
                 "momentum.step_ratio_up=0.5"]),
    case("momentum_step_epoch", dict(policy="CosineAnnealing", min_lr_ratio=0.1),
         dict(policy="step", step=[2, 4], min_momentum=0.3),
         optkit=["schedule=cosine", "schedule.min_lr_ratio=0.1", "momentum=step", "momentum.step=[2,4]",
                 "momentum.min_momentum=0.3"]),
    case("momentum_step_iter_warmup_exp", dict(policy="fixed"),
         dict(policy="step", step=6, gamma=0.8, by_epoch=False, warmup="exp", warmup_iters=9, warmup_ratio=0.8),
         optimizer="adam",
         optkit=["schedule=fixed", "momentum=step", "momentum.step=6", "momentum.gamma=0.8", "momentum.by_epoch=false",
                 "momentum.warmup=exp", "momentum.warmup_iters=9", "momentum.warmup_ratio=0.8"]),
    case("momentum_cosine_iter_warmup_linear", dict(policy="CosineAnnealing", min_lr_ratio=0.0, by_epoch=False),
         dict(policy="CosineAnnealing", min_momentum_ratio=0.5, by_epoch=False, warmup="linear", warmup_iters=10),
         optkit=["schedule=cosine", "schedule.by_epoch=false", "momentum=cosine", "momentum.min_momentum_ratio=0.5",
                 "momentum.by_epoch=false", "momentum.warmup=linear", "momentum.warmup_iters=10"]),
    case("momentum_linear_epoch_warmup_constant", dict(policy="LinearAnnealing", min_lr=1e-4),
         dict(policy="LinearAnnealing", min_momentum=0.5, warmup="constant", warmup_iters=6, warmup_ratio=0.95),
         optkit=["schedule=linear", "schedule.min_lr=1e-4", "momentum=linear", "momentum.min_momentum=0.5",
                 "momentum.warmup=constant", "momentum.warmup_iters=6", "momentum.warmup_ratio=0.95"]),
    case("momentum_cosine_epoch_adam", dict(policy="step", step=[3]),
         dict(policy="CosineAnnealing", min_momentum=0.6), optimizer="adam",
         optkit=["schedule=step", "schedule.step=[3]", "momentum=cosine", "momentum.min_momentum=0.6"]),
    case("onecycle_pair_total_steps_misaligned", dict(policy="OneCycle", max_lr=0.4, total_steps=45),
         dict(policy="OneCycle"),
         optkit=["schedule=onecycle", "schedule.max_lr=0.4", "schedule.total_steps=45", "momentum=onecycle"]),
    case("onecycle_pair_three_phase_lists_adam", dict(policy="OneCycle", max_lr=0.01, three_phase=True,
                                                      pct_start=0.4),
         dict(policy="OneCycle", base_momentum=[0.8, 0.85, 0.9], max_momentum=[0.9, 0.95, 0.99], three_phase=True,
              pct_start=0.4, anneal_strategy="linear"), optimizer="adam",
         optkit=["schedule=onecycle", "schedule.max_lr=0.01", "schedule.three_phase=true", "schedule.pct_start=0.4",
                 "momentum=onecycle", "momentum.base_momentum=[0.8,0.85,0.9]", "momentum.max_momentum=[0.9,0.95,0.99]",
                 "momentum.three_phase=true", "momentum.pct_start=0.4", "momentum.anneal_strategy=linear"]),
    case("momentum_onecycle_with_warmup", dict(policy="fixed"),
         dict(policy="OneCycle", warmup="linear", warmup_iters=5, warmup_ratio=0.9),
         optkit=["schedule=fixed", "momentum=onecycle", "momentum.warmup=linear", "momentum.warmup_iters=5"]),
]

# Configurations MMCV refuses, with the optkit overrides and the key optkit's error names.
ERRORS = [
    dict(name="cyclic_by_epoch", lr=dict(policy="cyclic", by_epoch=True),
         optkit=["schedule=cyclic", "schedule.by_epoch=true"], key="schedule.by_epoch"),
    dict(name="onecycle_by_epoch", lr=dict(policy="OneCycle", max_lr=0.1, by_epoch=True),
         optkit=["schedule=onecycle", "schedule.by_epoch=true"], key="schedule.by_epoch"),
    dict(name="onecycle_total_steps_short", lr=dict(policy="OneCycle", max_lr=0.1, total_steps=20),
         optkit=["schedule=onecycle", "schedule.total_steps=20"], key="schedule.total_steps"),
    dict(name="cosine_min_lr_and_ratio", lr=dict(policy="CosineAnnealing", min_lr=0.0, min_lr_ratio=0.1),
         optkit=["schedule=cosine", "schedule.min_lr=0.0", "schedule.min_lr_ratio=0.1"], key="schedule.min_lr"),
    dict(name="linear_min_lr_and_ratio", lr=dict(policy="LinearAnnealing", min_lr=1e-3, min_lr_ratio=0.1),
         optkit=["schedule=linear", "schedule.min_lr=1e-3", "schedule.min_lr_ratio=0.1"], key="schedule.min_lr"),
    dict(name="cyclic_step_ratio_up_one", lr=dict(policy="cyclic", step_ratio_up=1.0),
         optkit=["schedule=cyclic", "schedule.step_ratio_up=1.0"], key="schedule.step_ratio_up"),
    dict(name="cyclic_step_ratio_up_negative", lr=dict(policy="cyclic", step_ratio_up=-0.1),
         optkit=["schedule=cyclic", "schedule.step_ratio_up=-0.1"], key="schedule.step_ratio_up"),
    dict(name="cyclic_gamma_zero", lr=dict(policy="cyclic", gamma=0),
         optkit=["schedule=cyclic", "schedule.gamma=0"], key="schedule.gamma"),
    dict(name="cyclic_three_ratios", lr=dict(policy="cyclic", target_ratio=(10, 1, 0.1)),
         optkit=["schedule=cyclic", "schedule.target_ratio=[10,1,0.1]"], key="schedule.target_ratio"),
    dict(name="cyclic_anneal_strategy", lr=dict(policy="cyclic", anneal_strategy="cosine"),
         optkit=["schedule=cyclic", "schedule.anneal_strategy=cosine"], key="schedule.anneal_strategy"),
    dict(name="warmup_ratio_zero", lr=dict(policy="fixed", warmup="linear", warmup_iters=5, warmup_ratio=0.0),
         optkit=["warmup=linear", "warmup.iters=5", "warmup.ratio=0.0"], key="warmup.ratio"),
    dict(name="warmup_ratio_above_one", lr=dict(policy="fixed", warmup="linear", warmup_iters=5, warmup_ratio=1.5),
         optkit=["warmup=linear", "warmup.iters=5", "warmup.ratio=1.5"], key="warmup.ratio"),
    dict(name="warmup_iters_zero", lr=dict(policy="fixed", warmup="exp", warmup_iters=0),
         optkit=["warmup=exp", "warmup.iters=0"], key="warmup.iters"),
    dict(name="warmup_unknown_kind", lr=dict(policy="fixed", warmup="cosine", warmup_iters=5),
         optkit=["warmup=linear", "warmup.kind=cosine"], key="warmup.kind"),
    dict(name="step_float_milestones", lr=dict(policy="step", step=[1.5, 3]),
         optkit=["schedule=step", "schedule.step=[1.5,3]"], key="schedule.step"),
    dict(name="flat_cosine_start_percent", lr=dict(policy="FlatCosineAnnealing", start_percent=1.5, min_lr=0),
         optkit=["schedule=flat_cosine", "schedule.start_percent=1.5"], key="schedule.start_percent"),
    dict(name="cosine_restart_weights_length", lr=dict(policy="CosineRestart", periods=[10, 20], min_lr=0),
         optkit=["schedule=cosine_restart", "schedule.restart_weights=[1.0]"], key="schedule.restart_weights"),
    dict(name="cosine_restart_periods_short", lr=dict(policy="CosineRestart", periods=[2, 2], restart_weights=[1, 1],
                                                      min_lr=0),
         optkit=["schedule=cosine_restart", "schedule.periods=[2,2]", "schedule.restart_weights=[1,1]"],
         key="schedule.periods"),
    dict(name="onecycle_pct_start", lr=dict(policy="OneCycle", max_lr=0.1, pct_start=1.5),
         optkit=["schedule=onecycle", "schedule.pct_start=1.5"], key="schedule.pct_start"),
    dict(name="onecycle_max_lr_list_length", lr=dict(policy="OneCycle", max_lr=[0.1, 0.2]),
         optkit=["schedule=onecycle", "schedule.max_lr=[0.1,0.2]"], key="schedule.max_lr"),
    dict(name="onecycle_zero_length_phase", lr=dict(policy="OneCycle", max_lr=0.1, pct_start=0.025, total_steps=40),
         optkit=["schedule=onecycle", "schedule.pct_start=0.025", "schedule.total_steps=40"], key="schedule.pct_start"),
    dict(name="momentum_cyclic_by_epoch", lr=dict(policy="fixed"), momentum=dict(policy="cyclic", by_epoch=True),
         optkit=["momentum=cyclic", "momentum.by_epoch=true"], key="momentum.by_epoch"),
    dict(name="momentum_warmup_ratio_zero", lr=dict(policy="fixed"),
         momentum=dict(policy="CosineAnnealing", min_momentum_ratio=0.5, warmup="linear", warmup_iters=3,
                       warmup_ratio=0.0),
         optkit=["momentum=cosine", "momentum.warmup=linear", "momentum.warmup_iters=3", "momentum.warmup_ratio=0.0"],
         key="momentum.warmup_ratio"),
    dict(name="momentum_min_and_ratio", lr=dict(policy="fixed"),
         momentum=dict(policy="CosineAnnealing", min_momentum=0.5, min_momentum_ratio=0.5),
         optkit=["momentum=cosine", "momentum.min_momentum=0.5", "momentum.min_momentum_ratio=0.5"],
         key="momentum.min_momentum"),
    dict(name="momentum_onecycle_by_epoch", lr=dict(policy="fixed"), momentum=dict(policy="OneCycle", by_epoch=True),
         optkit=["momentum=onecycle", "momentum.by_epoch=true"], key="momentum.by_epoch"),
]


class Runner:
    """What the lr and momentum hooks read from EpochBasedRunner."""

    def __init__(self, optimizer: torch.optim.Optimizer, epochs: int, iters: int) -> None:
        self.optimizer = optimizer
        self.epoch = 0
        self.iter = 0
        self.max_epochs = epochs
        self.max_iters = epochs * iters
        self.data_loader = range(iters)


def make_optimizer(kind: str) -> torch.optim.Optimizer:
    groups = GROUPS[kind]
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], **copy.deepcopy(g)} for g in groups]
    for p in params:
        if "betas" in p:
            p["betas"] = tuple(p["betas"])
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)
    return torch.optim.Adam(params, lr=1e-3)


def build_hook(config: dict, kind: str):
    """MMCV `register_lr_hook` / `register_momentum_hook`: title-case an all-lowercase policy."""
    config = copy.deepcopy(config)
    policy = config.pop("policy")
    if policy == policy.lower():
        policy = policy.title()
    return mmcv.build_from_cfg(dict(type=policy + kind, **config), HOOKS)


def momentum_of(group: dict) -> float:
    return group["momentum"] if "momentum" in group else group["betas"][0]


def run_case(c: dict) -> dict:
    optimizer = make_optimizer(c["optimizer"])
    runner = Runner(optimizer, c["epochs"], c["iters_per_epoch"])
    hooks = [build_hook(c["lr_config"], "LrUpdaterHook")]
    if c["momentum_config"] is not None:
        hooks.append(build_hook(c["momentum_config"], "MomentumUpdaterHook"))
    n = c["iters_per_epoch"]
    keep = set(range(0, runner.max_iters, c["every"])) | set(range(40)) | set(range(runner.max_iters - 40,
                                                                                     runner.max_iters))
    keep |= set(range(0, runner.max_iters, n))
    warmup = (c["lr_config"] or {}).get("warmup_iters", 0) * (n if (c["lr_config"] or {}).get("warmup_by_epoch")
                                                              else 1)
    keep |= {warmup - 1, warmup, warmup + 1}
    iters, lr, momentum = [], [], []
    for hook in hooks:
        hook.before_run(runner)
    for epoch in range(c["epochs"]):
        runner.epoch = epoch
        for hook in hooks:
            hook.before_train_epoch(runner)
        for _ in range(n):
            for hook in hooks:
                hook.before_train_iter(runner)
            if runner.iter in keep:
                iters.append(runner.iter)
                lr.append([g["lr"] for g in optimizer.param_groups])
                momentum.append([momentum_of(g) for g in optimizer.param_groups])
            runner.iter += 1
    record = {k: v for k, v in c.items() if k != "every"}
    record["groups"] = GROUPS[c["optimizer"]]
    record["iters"] = None if len(iters) == runner.max_iters else iters
    record["lr"] = [list(col) for col in zip(*lr)]  # [group][iteration]
    record["momentum"] = [list(col) for col in zip(*momentum)]
    return record


def run_error(e: dict) -> dict:
    c = case(e["name"], e["lr"], e.get("momentum"), optkit=e["optkit"])
    try:
        run_case(c)
    except Exception as err:  # what MMCV raises, recorded
        return {**e, "epochs": c["epochs"], "iters_per_epoch": c["iters_per_epoch"],
                "mmcv_error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".strip()}
    raise SystemExit(f"MMCV accepted error case {e['name']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=OUT)
    args = parser.parse_args()
    fixture = {
        "generator": "scripts/mmcv_reference/schedules.py",
        "mmcv": mmcv.__version__,
        "torch": torch.__version__,
        "cases": [run_case(c) for c in CASES],
        "errors": [run_error(e) for e in ERRORS],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # one case per line: small, and a regenerated fixture diffs case by case
    lines = [f'"{key}": {json.dumps(value)}' for key, value in fixture.items() if key not in ("cases", "errors")]
    for key in ("cases", "errors"):
        lines.append(f'"{key}": [\n' + ",\n".join(json.dumps(item) for item in fixture[key]) + "\n]")
    args.out.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{args.out}: {len(fixture['cases'])} curves, {len(fixture['errors'])} error cases")


if __name__ == "__main__":
    main()
