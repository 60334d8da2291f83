"""What MMCV 1.7.2 makes of the importer's fixture configs, and the defaults of its hooks.

Runs in a throw-away virtualenv holding mmcv==1.7.2 (see ../shared/MMCV_SEMANTICS.md), never
in optkit's own environment, and writes the JSON that tests/test_from_mmcv_mmcv.py compares
optkit's importer with:

    /tmp/mmcv-venv/bin/python scripts/mmcv_reference/config_import.py -o tests/fixtures/mmcv_config_import.json

- `configs`: `Config.fromfile` of every config in tests/fixtures/mmcv_configs/ (not its
  `_base_/`), as plain data (tuples become lists), or the exception MMCV raises;
- `lr_hooks`, `momentum_hooks`, `optimizer_hooks`: every registered hook of that family with
  its keyword arguments and defaults (`"<required>"` when there is none), `by_epoch` as the
  built hook has it (OneCycle's signature says True and its body makes it False);
- `policies`: the hook class `runner.register_lr_hook` / `register_momentum_hook` asks the
  registry for, for each spelling of a policy name (MMCV's capitalisation rule);
- `optimizers`: the names in MMCV's OPTIMIZERS registry.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import tempfile
import warnings
from pathlib import Path

import mmcv
import torch
from mmcv import Config
from mmcv.runner import OPTIMIZERS, EpochBasedRunner
from mmcv.runner.hooks import HOOKS, LrUpdaterHook, MomentumUpdaterHook, OptimizerHook

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "tests" / "fixtures" / "mmcv_configs"
REQUIRED = "<required>"
POLICY_SPELLINGS = ["fixed", "Fixed", "step", "Step", "STEP", "exp", "poly", "inv", "cosineannealing",
                    "CosineAnnealing", "Cosineannealing", "flatcosineannealing", "FlatCosineAnnealing", "cosinerestart",
                    "CosineRestart", "cyclic", "Cyclic", "onecycle", "OneCycle", "linearannealing", "LinearAnnealing"]
REQUIRED_VALUES = {"step": [1], "gamma": 0.5, "periods": [1], "max_lr": 0.1}


def data(value):
    if isinstance(value, dict):
        return {str(k): data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [data(v) for v in value]
    return value


def read_configs() -> dict:
    out = {}
    for path in sorted(p for p in CONFIGS.iterdir() if p.is_file()):
        try:
            cfg = Config.fromfile(str(path), import_custom_modules=False)
            out[path.name] = {"config": data(cfg._cfg_dict.to_dict())}
        except Exception as err:  # MMCV's own refusal is the reference
            out[path.name] = {"error": type(err).__name__}
    return out


def arguments(cls: type) -> dict:
    found = {}
    for klass in reversed(cls.__mro__):
        if "__init__" not in vars(klass) or klass is object:
            continue
        for name, p in inspect.signature(klass.__init__).parameters.items():
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                found[name] = REQUIRED if p.default is p.empty else data(p.default)
    return found


def hooks(base: type) -> dict:
    out = {}
    for name, cls in sorted(HOOKS.module_dict.items()):
        if issubclass(cls, base):
            entry = {"arguments": arguments(cls)}
            if "by_epoch" in entry["arguments"]:
                required = {k: REQUIRED_VALUES[k] for k, v in entry["arguments"].items() if v == REQUIRED}
                if "min_lr" in entry["arguments"]:
                    required["min_lr"] = 0.0
                if "min_momentum" in entry["arguments"]:
                    required["min_momentum"] = 0.0
                entry["by_epoch"] = cls(**required).by_epoch
            out[name] = entry
    return out


def asked_hook_types() -> dict:
    """The registry name MMCV's runner builds for each policy spelling (nothing is built)."""
    asked = []

    def record(cfg, registry, default_args=None):
        asked.append(cfg["type"])
        return None

    class Model(torch.nn.Linear):
        def train_step(self, *args):  # MMCV's runner only checks that it exists
            return {}

    runner = EpochBasedRunner(Model(1, 1), optimizer=torch.optim.SGD([torch.zeros(1)], lr=0.1),
                              work_dir=tempfile.mkdtemp(), logger=logging.getLogger("mmcv-reference"))
    original = mmcv.build_from_cfg
    mmcv.build_from_cfg = record
    try:
        out = {}
        for kind, register in (("lr", runner.register_lr_hook), ("momentum", runner.register_momentum_hook)):
            for policy in POLICY_SPELLINGS:
                asked.clear()
                try:
                    register({"policy": policy})
                except Exception:  # register_hook(None) after our stand-in: the name is recorded already
                    pass
                out.setdefault(kind, {})[policy] = {"type": asked[0], "registered": asked[0] in HOOKS.module_dict}
        return out
    finally:
        mmcv.build_from_cfg = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    result = {
        "mmcv": mmcv.__version__,
        "configs": read_configs(),
        "lr_hooks": hooks(LrUpdaterHook),
        "momentum_hooks": hooks(MomentumUpdaterHook),
        "optimizer_hooks": hooks(OptimizerHook),
        "policies": asked_hook_types(),
        "optimizers": sorted(OPTIMIZERS.module_dict),
    }
    Path(args.output).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
