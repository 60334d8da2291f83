"""What MMEngine 0.10.7 makes of the importer's MMEngine-format fixtures: the config it reads
and the value of every scheduled key in every param group at every iteration.

Runs in a throw-away virtualenv holding mmengine==0.10.7 (never in optkit's own environment):

    python3 -m venv /tmp/mmengine-venv
    /tmp/mmengine-venv/bin/pip install torch==2.13.0 mmengine==0.10.7
    /tmp/mmengine-venv/bin/python scripts/mmengine_reference/schedules.py -o tests/fixtures/mmengine_schedules.json

For each fixture (tests/fixtures/mmengine_configs: MMPretrain's `_base_/schedules/`, full
model configs in both formats, and `chains/`):

- `config`: `Config.fromfile`'s `optim_wrapper`, `param_scheduler`, `train_cfg`,
  `auto_scale_lr`, `default_hooks`, `custom_hooks` as plain data (a class given as `type=`
  becomes its name);
- `curves`: the schedulers built as MMEngine's runner builds them (`end` defaults to the
  train loop's max_epochs / max_iters, `PARAM_SCHEDULERS.build` with the loader length as
  `epoch_length`, so `convert_to_iter_based` is MMEngine's own) and stepped by MMEngine's
  own `ParamSchedulerHook` (after every iteration, then after every epoch); the value each
  optimizer step uses is recorded for `lr`, `momentum` (Adam: `betas[0]`) and
  `weight_decay`. Two param groups: the base one and one with lr × 0.1, weight decay × 0
  (a paramwise `custom_keys` group), so that per-group bases and MMEngine's absolute
  `eta_min` show. Lists are run-length encoded: `[[value, count], ...]`.

Optimizers torch lacks (LARS, Lamb) are replaced by SGD: the schedule does not depend on
them, only on the group keys.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.hooks import ParamSchedulerHook
from mmengine.registry import PARAM_SCHEDULERS

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "mmengine_configs"
FULL_CONFIGS = ["configs/resnet/resnet50_8xb32-fp16_in1k.py", "configs/convnext/convnext-tiny_32xb128_in1k.py",
                "mmpretrain/configs/resnet/resnet18_8xb32_in1k.py",
                "mmpretrain/configs/convnext/convnext-tiny_32xb128_in1k.py"]
KEYS = ("optim_wrapper", "param_scheduler", "train_cfg", "auto_scale_lr", "default_hooks", "custom_hooks")
ITERS_PER_EPOCH = 4
# Long enough for the iteration-valued phases of these files to start.
OWN_ITERS_PER_EPOCH = {"imagenet_bs1024_linearlr_bn_nowd.py": 20, "imagenet_bs2048.py": 30,
                       "every_lr_scheduler.py": 5, "momentum_and_ratios.py": 6}
GROUP_LR_MULT, GROUP_DECAY_MULT = 0.1, 0.0


def fixtures() -> list[str]:
    schedules = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*configs/_base_/schedules/*.py"))
    chains = sorted(str(p.relative_to(FIXTURES)) for p in (FIXTURES / "chains").glob("*.py"))
    return schedules + FULL_CONFIGS + chains


def data(value):
    if isinstance(value, dict):  # dict.items: a ConfigDict's own would import lazy objects
        return {str(k): data(v) for k, v in dict.items(value)}
    if isinstance(value, (list, tuple)):
        return [data(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return value.__name__ if isinstance(value, type) else str(value)  # a lazy import: str() is its name


def optimizer(cfg: dict) -> torch.optim.Optimizer:
    kind = cfg["type"]
    args = {k: v for k, v in cfg.items() if k != "type"}
    cls = getattr(torch.optim, kind) if kind in ("SGD", "AdamW", "Adam") else torch.optim.SGD
    base = [torch.nn.Parameter(torch.zeros(2))]
    other = [torch.nn.Parameter(torch.zeros(2))]
    lr, wd = args.pop("lr"), args.pop("weight_decay", 0.0)
    return cls([dict(params=base, lr=lr, weight_decay=wd),
                dict(params=other, lr=lr * GROUP_LR_MULT, weight_decay=wd * GROUP_DECAY_MULT)], lr=lr, **args)


class Runner:
    """What ParamSchedulerHook reads from the runner."""

    def __init__(self, schedulers: list) -> None:
        self.param_schedulers = schedulers


def rle(values: list[float]) -> list[list]:
    out: list[list] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return out


def curves(config: dict, iters_per_epoch: int) -> dict:
    opt = optimizer(config["optim_wrapper"]["optimizer"])
    train = config["train_cfg"]
    by_epoch = train.get("by_epoch", train.get("type") != "IterBasedTrainLoop")
    max_epochs = train["max_epochs"] if by_epoch else 1
    max_iters = max_epochs * iters_per_epoch if by_epoch else train["max_iters"]
    phases = config["param_scheduler"]
    phases = [phases] if isinstance(phases, dict) else phases
    schedulers = []
    for phase in phases:  # Runner._build_param_scheduler
        phase = dict(phase)
        phase.setdefault("end", max_epochs if phase.get("by_epoch", True) else max_iters)
        schedulers.append(PARAM_SCHEDULERS.build(phase, default_args=dict(optimizer=opt,
                                                                          epoch_length=iters_per_epoch)))
    hook, runner = ParamSchedulerHook(), Runner(schedulers)
    seen: dict[str, list[list[float]]] = {"lr": [], "momentum": [], "weight_decay": []}
    for it in range(max_iters):
        for key, rows in seen.items():
            for g, group in enumerate(opt.param_groups):
                value = group["betas"][0] if key == "momentum" and "betas" in group else group.get(key)
                (rows.append([]) if len(rows) <= g else None)
                rows[g].append(value)
        opt.step()
        hook.after_train_iter(runner, it % iters_per_epoch)
        if by_epoch and (it + 1) % iters_per_epoch == 0:
            hook.after_train_epoch(runner)
    return {"iters_per_epoch": iters_per_epoch, "max_iters": max_iters,
            "groups": [{key: rle(rows[g]) for key, rows in seen.items()} for g in range(len(opt.param_groups))]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    out = {"mmengine": __import__("mmengine").__version__, "group_lr_mult": GROUP_LR_MULT,
           "group_decay_mult": GROUP_DECAY_MULT, "fixtures": {}}
    for name in fixtures():
        cfg = Config.fromfile(str(FIXTURES / name))
        entry = {"config": {key: data(dict.get(cfg._cfg_dict, key)) for key in KEYS if key in cfg}}
        if "param_scheduler" in cfg:
            entry["curves"] = curves(entry["config"], OWN_ITERS_PER_EPOCH.get(Path(name).name, ITERS_PER_EPOCH))
        out["fixtures"][name] = entry
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
