"""The importer against MMCV 1.7.2 itself (tests/fixtures/mmcv_config_import.json, written by
scripts/mmcv_reference/config_import.py): the reader gives what `Config.fromfile` gives, the
tables of MMCV names and defaults are MMCV's, and a translation with nothing but the required
arguments composes to MMCV's defaults in optkit."""
from __future__ import annotations

import json
import shlex

import pytest
from omegaconf import OmegaConf

from optkit.from_mmcv import mmcv_names as mm
from optkit.from_mmcv.emit import override_line
from optkit.from_mmcv.read import ReadError, Unevaluable, read_config
from optkit.from_mmcv.translate import plain, torch_optimizer_options, translate
from tests.conftest import REPO, compose_config

REFERENCE = json.loads((REPO / "tests" / "fixtures" / "mmcv_config_import.json").read_text())
CONFIGS = REPO / "tests" / "fixtures" / "mmcv_configs"
EXAMPLE_VALUES = {"step": [2, 4], "gamma": 0.5, "periods": [3, 3], "max_lr": 0.1}


def test_reference_covers_every_fixture_config():
    assert sorted(REFERENCE["configs"]) == sorted(p.name for p in CONFIGS.iterdir() if p.is_file())


@pytest.mark.parametrize("name", sorted(REFERENCE["configs"]))
def test_reader_gives_what_mmcv_config_fromfile_gives(name, monkeypatch):
    monkeypatch.chdir(REPO)
    expected = REFERENCE["configs"][name]
    if "error" in expected:
        with pytest.raises(ReadError):
            read_config(CONFIGS / name)
        return
    got = read_config(CONFIGS / name)
    assert not any(isinstance(v, Unevaluable) for v in got.values())
    assert json.loads(json.dumps(plain(got))) == expected["config"]


def effective_arguments(entry: dict) -> dict:
    """A hook's keyword arguments and defaults as MMCV builds it (OneCycle's signature says
    by_epoch=True and its body makes it False)."""
    arguments = dict(entry["arguments"])
    if "by_epoch" in entry:
        arguments["by_epoch"] = entry["by_epoch"]
    return arguments


@pytest.mark.parametrize("family,hooks,base,suffix", [
    ("lr_hooks", mm.LR_HOOKS, mm.LR_HOOK_BASE, "LrUpdaterHook"),
    ("momentum_hooks", mm.MOMENTUM_HOOKS, mm.MOMENTUM_HOOK_BASE, "MomentumUpdaterHook"),
])
def test_policy_tables_are_mmcvs_hooks_and_defaults(family, hooks, base, suffix):
    reference = REFERENCE[family]
    assert sorted(f"{name}{suffix}" for name in hooks) == sorted(reference)
    for name, (_, own) in hooks.items():
        assert plain({**base, **own}) == effective_arguments(reference[f"{name}{suffix}"]), name


def test_optimizer_hook_table_is_mmcvs():
    assert plain(mm.OPTIMIZER_HOOKS) == {name: entry["arguments"] for name, entry in REFERENCE["optimizer_hooks"].items()}


@pytest.mark.parametrize("kind", ["lr", "momentum"])
def test_policy_capitalisation_is_mmcvs(kind):
    hooks, suffix = (mm.LR_HOOKS, "LrUpdaterHook") if kind == "lr" else (mm.MOMENTUM_HOOKS, "MomentumUpdaterHook")
    for policy, asked in REFERENCE["policies"][kind].items():
        assert f"{mm.hook_name(policy)}{suffix}" == asked["type"]
        assert (mm.hook_name(policy) in hooks) == asked["registered"]


def test_every_mmcv_optimizer_name_has_an_option():
    names = set(REFERENCE["optimizers"]) - {"Optimizer"}
    assert names <= set(torch_optimizer_options())


def assert_same(got, expected, key: str) -> None:
    got = plain(OmegaConf.to_object(got) if OmegaConf.is_config(got) else got)
    if expected is None:
        assert got is None, key
    else:
        assert got == pytest.approx(expected), key


def required_arguments(own: dict) -> dict:
    found = {k: EXAMPLE_VALUES[k] for k, v in own.items() if v == mm.REQUIRED}
    for target in ("min_lr_ratio", "min_momentum_ratio"):
        if target in own:  # MMCV asserts exactly one of min_* and min_*_ratio
            found[target] = 0.0
    return found


@pytest.mark.parametrize("key,name", [("lr_config", name) for name in sorted(mm.LR_HOOKS)]
                         + [("momentum_config", name) for name in sorted(mm.MOMENTUM_HOOKS)])
def test_an_imported_policy_composes_to_mmcvs_defaults(key, name):
    """`<key>=dict(policy=NAME, <required only>)` → every field holds MMCV's default, whatever
    the optkit option's own default is (restart_weights, gamma, ...). The lr warmup is its own
    group (checked below)."""
    group, hooks, suffix, family = {"lr_config": ("schedule", mm.LR_HOOKS, "LrUpdaterHook", "lr_hooks"),
                                    "momentum_config": ("momentum", mm.MOMENTUM_HOOKS, "MomentumUpdaterHook",
                                                        "momentum_hooks")}[key]
    given = required_arguments(hooks[name][1])
    t = translate({"optimizer": {"type": "SGD", "lr": 0.1, "momentum": 0.9}, key: {"policy": name, **given}}, "test")
    cfg = compose_config(shlex.split(override_line(t)))
    expected = {**effective_arguments(REFERENCE[family][f"{name}{suffix}"]), **given}
    for field, value in expected.items():
        if group == "momentum" or not field.startswith("warmup"):
            assert_same(cfg[group][field], value, field)
    assert cfg.warmup.kind is None


def test_an_imported_warmup_composes_to_mmcvs_defaults():
    t = translate({"lr_config": {"policy": "fixed", "warmup": "linear", "warmup_iters": 10}}, "test")
    cfg = compose_config(shlex.split(override_line(t)))
    assert (cfg.warmup.kind, cfg.warmup.iters, cfg.warmup.ratio, cfg.warmup.by_epoch) == (
        "linear", 10, mm.LR_HOOK_BASE["warmup_ratio"], mm.LR_HOOK_BASE["warmup_by_epoch"])
