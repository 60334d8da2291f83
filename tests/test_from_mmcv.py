"""The MMCV config importer: reading without running, MMCV's merge rule, the translation of
each key, the report of what does not translate, and the two outputs composing alike."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from optkit.from_mmcv.emit import experiment_yaml, hydra_value, override_line
from optkit.from_mmcv.main import main
from optkit.from_mmcv.read import ReadError, Unevaluable, read_config
from optkit.from_mmcv.translate import translate
from optkit.plot_lr import curves
from tests.conftest import REPO, compose_config

CONFIGS = REPO / "tests" / "fixtures" / "mmcv_configs"
READABLE = sorted(p.stem for p in CONFIGS.glob("*.py") if p.stem != "tutorial_grad_clip_no_delete")

# What each fixture imports to (the tutorial's snippets, a base/child pair with _delete_, full configs).
EXPECTED = {
    "tutorial_sgd": "optimizer=sgd schedule=fixed optimizer.lr=0.0003 optimizer.weight_decay=0.0001",
    "tutorial_adam": "optimizer=adam schedule=fixed optimizer.lr=0.001 'optimizer.betas=[0.9,0.999]' "
                     "optimizer.eps=1e-08 optimizer.weight_decay=0 optimizer.amsgrad=false",
    "tutorial_step": "schedule=step 'schedule.step=[100,150]'",
    "tutorial_cosine": "schedule=cosine schedule.min_lr_ratio=1e-05",
    "tutorial_poly": "schedule=poly schedule.power=0.9 schedule.min_lr=0.0001 schedule.by_epoch=false",
    "tutorial_warmup_linear": "schedule=cosine warmup=linear schedule.by_epoch=false schedule.min_lr_ratio=0.01 "
                              "warmup.iters=25040 warmup.ratio=0.001 warmup.by_epoch=false",
    "tutorial_warmup_exp": "schedule=cosine warmup=exp schedule.min_lr=0 warmup.iters=5 warmup.ratio=0.1 "
                           "warmup.by_epoch=true",
    "tutorial_cyclic": "schedule=cyclic momentum=cyclic 'schedule.target_ratio=[10,0.0001]' schedule.cyclic_times=1 "
                       "schedule.step_ratio_up=0.4 'momentum.target_ratio=[0.8947368421052632,1]' "
                       "momentum.cyclic_times=1 momentum.step_ratio_up=0.4",
    "tutorial_no_norm_decay": "optimizer=sgd schedule=fixed paramwise=no_norm_decay optimizer.lr=0.8 "
                              "optimizer.weight_decay=0.0001",
    "tutorial_vit_no_decay_tokens": "optimizer=sgd schedule=fixed paramwise=vit_no_decay_tokens optimizer.lr=0.8 "
                                    "optimizer.weight_decay=0.0001",
    "tutorial_backbone_lr": "optimizer=sgd schedule=fixed paramwise=backbone_lr optimizer.lr=0.8 "
                            "optimizer.weight_decay=0.0001",
    "tutorial_grad_clip": "schedule=fixed grad=clip",
    "tutorial_grad_clip_delete": "optimizer=sgd schedule=cosine grad=clip optimizer.lr=0.1 optimizer.momentum=0.9 "
                                 "optimizer.weight_decay=0.0001 schedule.min_lr=0 trainer.max_epochs=100",
    "tutorial_accumulate": "schedule=fixed data.batch_size=64 grad.accumulate=4 grad.remainder=mmcv",
    "tutorial_accumulate_big_batch": "schedule=fixed data.batch_size=256",
    "tutorial_sgd_momentum": "optimizer=sgd schedule=fixed optimizer.lr=0.02 optimizer.momentum=0.9 "
                             "optimizer.weight_decay=0.0001",
    "tutorial_custom_optimizer": "optimizer=custom schedule=fixed optimizer._target_=examples.my_optimizer.MyOptimizer "
                                 "++optimizer.a=0.9 ++optimizer.b=0.99 ++optimizer.c=0.1 ++optimizer.lr=0.0003 "
                                 "'custom_imports=[examples.my_optimizer]' allow_failed_imports=false",
    "resnet18_cifar10": "optimizer=sgd schedule=step data.batch_size=128 optimizer.lr=0.1 optimizer.momentum=0.9 "
                        "optimizer.weight_decay=0.0001 'schedule.step=[100,150]' trainer.max_epochs=200",
    "iter_based": "optimizer=sgd schedule=poly momentum=onecycle optimizer.lr=0.01 optimizer.momentum=0.9 "
                  "optimizer.weight_decay=0.0005 schedule.power=0.9 schedule.min_lr=0.0001 schedule.by_epoch=false "
                  "trainer.max_iters=40000",
    "vit_finetune": "optimizer=adamw schedule=cosine warmup=linear paramwise=no_decay_bias_norm data.batch_size=128 "
                    "optimizer.lr=0.001 optimizer.weight_decay=0.05 optimizer.eps=1e-08 "
                    "'optimizer.betas=[0.9,0.999]' schedule.by_epoch=false schedule.min_lr=1e-06 "
                    "warmup.iters=5 warmup.ratio=0.001 warmup.by_epoch=true "
                    "'++paramwise.custom_keys={.cls_token:{decay_mult:0.0},.pos_embed:{decay_mult:0.0}}' "
                    "grad.clip.max_norm=5.0 trainer.amp=fp16 trainer.max_epochs=100",
}


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def imported(path) -> str:
    return override_line(translate(read_config(path), str(path)))


def test_every_fixture_has_its_expected_import():
    assert sorted(EXPECTED) == READABLE


@pytest.mark.parametrize("name", READABLE)
def test_fixture_imports_to_the_expected_overrides(name):
    assert imported(CONFIGS / f"{name}.py") == EXPECTED[name]


@pytest.mark.parametrize("name", READABLE)
def test_experiment_file_and_override_line_compose_to_the_same_config(name, tmp_path):
    t = translate(read_config(CONFIGS / f"{name}.py"), name)
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / f"imported_{name}.yaml").write_text(experiment_yaml(t, ""))
    from_file = compose_config([f"hydra.searchpath=[file://{tmp_path}]", f"+experiment=imported_{name}"])
    from_line = compose_config(shlex.split(override_line(t)))
    assert OmegaConf.to_container(from_file) == OmegaConf.to_container(from_line)


# --- reading without running ---------------------------------------------------------------------------


@pytest.mark.parametrize("source,expected", [
    ("x = 0.85 / 0.95", 0.85 / 0.95),
    ("x = 20 * 1252", 25040),
    ("x = -(-2e-4) / 2 + 1 // 1 - 2 ** 3 % 5", 1e-4 + 1 - 3),
    ("x = dict(a=1, b=(1, 2), c=[None, True, 'x'])", {"a": 1, "b": (1, 2), "c": [None, True, "x"]}),
    ("x = {'a': 1, **dict(b=2)}", {"a": 1, "b": 2}),
    ("lr = 0.1\nx = dict(lr=lr * 2, lrs=[lr] * 2)", {"lr": 0.2, "lrs": [0.1, 0.1]}),
    ("a = [1]\nx = a + [2, *a] + list((3,))", [1, 2, 1, 3]),
    ("d = dict(p=dict(q=[5, 6]))\nx = d['p']['q'][-1]", 6),
    ("name = 'r'\nx = f'./work_dirs/{name}_{2 * 3:03d}'", "./work_dirs/r_006"),
    ("x, (y, z) = 1, (2, 3)\nx = [x, y, z]", [1, 2, 3]),
    ("x: float = 1.5", 1.5),
    ("import os\nfrom math import pi\nx = 1", 1),
])
def test_the_literal_subset_is_evaluated(tmp_path, source, expected):
    assert read_config(write(tmp_path, "c.py", source))["x"] == expected


def test_names_starting_with_two_underscores_and_modules_are_not_keys(tmp_path):
    cfg = read_config(write(tmp_path, "c.py", '"""doc"""\nimport os\n__x = 1\n_y = 2\nz = __x\n'))
    assert cfg == {"_y": 2, "z": 1}


def test_what_is_not_a_literal_is_unevaluable_at_the_smallest_value(tmp_path):
    cfg = read_config(write(tmp_path, "c.py", """\
        from somewhere import CONST
        optimizer = dict(type='SGD', lr=float('0.1'), momentum=0.9, weight_decay=CONST)
        other = undefined_name + 1
        boom = 1 / 0
        """))
    assert cfg["optimizer"]["momentum"] == 0.9 and cfg["optimizer"]["type"] == "SGD"
    assert isinstance(cfg["optimizer"]["lr"], Unevaluable) and "float" in cfg["optimizer"]["lr"].reason
    assert "imported from somewhere" in cfg["optimizer"]["weight_decay"].reason
    assert "undefined_name" in cfg["other"].reason and "ZeroDivisionError" in cfg["boom"].reason
    t = translate(cfg, "c.py")
    assert any(line.startswith("optimizer.lr: cannot evaluate float('0.1')") for line in t.skipped)
    assert ("optimizer", "momentum") in t.values and ("optimizer", "lr") not in t.values


def test_the_file_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    cfg = read_config(write(tmp_path, "c.py", f"x = open({str(marker)!r}, 'w')\ny = __import__('os')\n"))
    assert not marker.exists()
    assert isinstance(cfg["x"], Unevaluable) and isinstance(cfg["y"], Unevaluable)
    cfg = read_config(write(tmp_path, "big.py", 'a = [0] * 10**9\nb = f"{1:>99999999}"\nc = "%99999999d" % 1\n'
                                                 "d = 10 ** 10 ** 10\n"))
    assert all(isinstance(v, Unevaluable) for v in cfg.values())  # nothing huge is built either


@pytest.mark.parametrize("source,message", [
    ("for i in range(3):\n    x = i\n", "c.py:1: unsupported statement (For)"),
    ("x = 1\nif x:\n    y = 2\n", "c.py:2: unsupported statement (If)"),
    ("x = 1\nx += 1\n", "c.py:2: unsupported statement (AugAssign)"),
    ("def f():\n    pass\n", "unsupported statement (FunctionDef)"),
    ("d = {}\nd['a'] = 1\n", "c.py:2: unsupported assignment target"),
    ("x = dict(a=1\n", "invalid Python"),
    ("_base_ = 3\n", "_base_ must be a path or a list of paths"),
    ("x = {{ _base_.a }}\n", "without a _base_ file"),
])
def test_unsupported_input_is_one_read_error(tmp_path, source, message):
    with pytest.raises(ReadError) as err:
        read_config(write(tmp_path, "c.py", source))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_base_problems_mmcv_refuses_are_read_errors(tmp_path):
    write(tmp_path, "a.py", "x = 1\n")
    write(tmp_path, "b.py", "x = 2\n")
    with pytest.raises(ReadError, match="both define x"):
        read_config(write(tmp_path, "dup.py", "_base_ = ['a.py', 'b.py']\n"))
    write(tmp_path, "loop1.py", "_base_ = 'loop2.py'\n")
    write(tmp_path, "loop2.py", "_base_ = 'loop1.py'\n")
    with pytest.raises(ReadError, match="include each other"):
        read_config(tmp_path / "loop1.py")
    with pytest.raises(ReadError, match="cannot read"):
        read_config(write(tmp_path, "missing.py", "_base_ = 'nowhere.py'\n"))
    with pytest.raises(ReadError, match="no such key"):
        read_config(write(tmp_path, "ref.py", "_base_ = 'a.py'\ny = {{ _base_.z }}\n"))
    with pytest.raises(ReadError, match="not an MMCV config"):
        read_config(write(tmp_path, "c.toml", "x = 1\n"))


def test_merge_follows_mmcv_delete_rule(tmp_path):
    write(tmp_path, "base/sched.py", """\
        optimizer = dict(type='SGD', lr=0.1, momentum=0.9, paramwise_cfg=dict(norm_decay_mult=0.0))
        optimizer_config = dict(grad_clip=None)
        lr_config = dict(policy='step', step=[30, 60], gamma=0.1)
        """)
    cfg = read_config(write(tmp_path, "child.py", """\
        _base_ = ['./base/sched.py']
        optimizer = dict(lr=0.2, paramwise_cfg=dict(bias_lr_mult=2.0))
        lr_config = dict(_delete_=True, policy='CosineAnnealing', min_lr=0)
        momentum_config = dict(policy='cyclic', _delete_=True)
        """))
    assert cfg["optimizer"] == {"type": "SGD", "lr": 0.2, "momentum": 0.9,
                                "paramwise_cfg": {"norm_decay_mult": 0.0, "bias_lr_mult": 2.0}}
    assert cfg["lr_config"] == {"policy": "CosineAnnealing", "min_lr": 0}  # base keys gone
    assert cfg["momentum_config"] == {"policy": "cyclic", "_delete_": True}  # MMCV keeps it: nothing to delete
    t = translate(cfg, "child.py")
    assert "momentum_config._delete_: no base value to delete here; MMCV passes it on to the hook, which fails" in \
        t.skipped


def test_json_and_yaml_configs_and_predefined_variables(tmp_path):
    write(tmp_path, "base.json", json.dumps({"optimizer": {"type": "Adam", "lr": 0.01}, "runner": {
        "type": "EpochBasedRunner", "max_epochs": 12}}))
    path = write(tmp_path, "conf.yaml", """\
        _base_: base.json
        lr_config: {policy: step, step: [8, 11]}
        work_dir: ./work_dirs/{{ fileBasenameNoExtension }}{{ fileExtname }}
        """)
    cfg = read_config(path)
    assert cfg["optimizer"]["lr"] == 0.01 and cfg["work_dir"] == "./work_dirs/conf.yaml"
    assert imported(path) == ("optimizer=adam schedule=step optimizer.lr=0.01 'schedule.step=[8,11]' "
                              "trainer.max_epochs=12")


# --- translation ------------------------------------------------------------------------------------------


def report_of(cfg: dict) -> list[str]:
    t = translate(cfg, "c.py")
    return t.skipped + t.notes


@pytest.mark.parametrize("cfg,line", [
    ({"optimizer": {"type": "SGD", "lr": 0.1, "nesterov_typo": True}},
     "optimizer.nesterov_typo: not an argument of torch.optim.SGD (MMCV: TypeError)"),
    ({"optimizer": {"type": "SGD", "lr": 0.1, "paramwise_cfg": {"norm_decay": 0.0}}},
     "optimizer.paramwise_cfg.norm_decay: not a DefaultOptimizerConstructor option (MMCV ignores it)"),
    ({"optimizer": {"type": "SGD", "lr": 0.1, "paramwise_cfg": {"custom_keys": {"head": {"lr_mult": 2, "x": 1}}}}},
     "optimizer.paramwise_cfg.custom_keys.head.x: MMCV reads only lr_mult and decay_mult here"),
    ({"optimizer": {"type": "SGD", "lr": 0.1, "constructor": "LayerDecayOptimizerConstructor"}},
     "optimizer.constructor: 'LayerDecayOptimizerConstructor' is an MMCV class"),
    ({"optimizer": {"type": "Lamb", "lr": 0.1}},
     "optimizer.type: 'Lamb' is not in torch.optim and custom_imports does not say which module defines it"),
    ({"optimizer": {"g": {"type": "SGD"}, "d": {"type": "Adam"}}}, "optimizer: no type"),
    ({"optimizer_config": {"grad_clip": {"max_norm": 1, "error_if_nonfinite": True}}},
     "optimizer_config.grad_clip.error_if_nonfinite: optkit passes only max_norm and norm_type"),
    ({"optimizer_config": {"cumulative_iters": 4}},
     "optimizer_config.cumulative_iters: not an argument of OptimizerHook (MMCV: TypeError)"),
    ({"optimizer_config": {"type": "MyHook", "grad_clip": None}}, "optimizer_config.type: 'MyHook' is not one of"),
    ({"optimizer_config": {"detect_anomalous_params": True}}, "optimizer_config.detect_anomalous_params"),
    ({"optimizer_config": None}, "optimizer_config: None: MMCV registers no optimizer hook"),
    ({"optimizer_config": {"type": "Fp16OptimizerHook"}}, "optimizer_config.loss_scale: a static loss scale (512.0)"),
    ({"fp16": {"loss_scale": 512.0}}, "fp16.loss_scale: a static loss scale (512.0)"),
    ({"lr_config": {"policy": "cosineannealing", "min_lr": 0}},
     "lr_config.policy: 'cosineannealing' means CosineannealingLrUpdaterHook, which MMCV 1.x does not have; "
     "did you mean 'CosineAnnealing'?"),
    ({"lr_config": {"policy": "step", "step": [1], "min_lr_ratio": 0.1}},
     "lr_config.min_lr_ratio: not an argument of this MMCV hook"),
    ({"lr_config": {"policy": "step"}}, "lr_config.step: required by MMCV and missing"),
    ({"lr_config": {"policy": "CosineAnnealing"}}, "lr_config: neither min_lr nor min_lr_ratio"),
    ({"lr_config": {"policy": "fixed", "warmup": "linear"}}, "lr_config.warmup_iters: missing"),
    ({"lr_config": {"policy": "fixed", "warmup": "cosine", "warmup_iters": 3}},
     "lr_config.warmup: 'cosine' is not one of constant, linear, exp"),
    ({"lr_config": {"policy": "fixed", "warmup_iters": 3}}, "lr_config.warmup_iters: ignored: there is no warmup"),
    ({"lr_config": {"step": [1]}}, "lr_config: no policy"),
    ({"momentum_config": {"policy": "cyclic", "warmup_by_epoch": True}},
     "momentum_config.warmup_by_epoch: not an argument of this MMCV hook"),
    ({"runner": {"type": "EpochBasedRunner", "max_epochs": 3, "max_iters": 9}},
     "runner.max_iters: EpochBasedRunner is bounded by max_epochs only"),
    ({"runner": {"type": "IterBasedRunner", "max_iters": 9}, "lr_config": {"policy": "step", "step": [3]}},
     "runner: IterBasedRunner with schedule by_epoch=True"),
    ({"runner": {"type": "MyRunner"}}, "runner.type: 'MyRunner': optkit translates EpochBasedRunner and "
                                       "IterBasedRunner only"),
    ({"total_epochs": 12}, "total_epochs: the legacy key"),
    ({"data": {"samples_per_gpu": 8, "persistent_workers": True}}, "data.persistent_workers: no optkit equivalent"),
    ({"custom_imports": {"imports": ["a"], "extra": 1}}, "custom_imports.extra: MMCV reads imports and "
                                                         "allow_failed_imports only"),
    ({"model": {"type": "ImageClassifier"}}, "model: models are optkit options"),
    ({"base_lr": 0.1}, "base_lr: not a setting MMCV's runner reads (a variable of the file?)"),
])
def test_what_does_not_translate_is_reported_not_dropped(cfg, line):
    assert any(entry.startswith(line) for entry in report_of(cfg)), report_of(cfg)


def test_every_top_level_key_is_translated_or_reported():
    for name in READABLE:
        cfg = read_config(CONFIGS / f"{name}.py")
        t = translate(cfg, name)
        reported = {line.split(":")[0].split(".")[0] for line in t.skipped + t.notes}
        translated = {"optimizer", "optimizer_config", "lr_config", "momentum_config", "runner", "data",
                      "custom_imports", "fp16", "total_epochs", "load_from"}
        assert set(cfg) <= translated | reported, name


def test_mmcv_defaults_the_optkit_option_lacks_are_written_out():
    t = translate({"lr_config": {"policy": "CosineRestart", "periods": [5, 5], "min_lr": 0}}, "c.py")
    assert t.values[("schedule", "restart_weights")] == [1]  # optkit's option: [1.0, 0.5]
    t = translate({"lr_config": {"policy": "fixed", "warmup": "exp", "warmup_iters": 7}}, "c.py")
    assert t.values[("warmup", "iters")] == 7


def test_custom_optimizer_module_comes_from_custom_imports():
    t = translate({"custom_imports": {"imports": "my_pkg.opt"}, "optimizer": {"type": "Lamb", "lr": 0.1}}, "c.py")
    assert t.options["optimizer"] == "custom" and t.values[("optimizer", "_target_")] == "my_pkg.opt.Lamb"
    assert ("optimizer", "lr") in t.added and t.values[("custom_imports",)] == ["my_pkg.opt"]


def test_accumulation_keeps_mmcvs_clock_and_fp16_cumulative_hook():
    t = translate({"optimizer_config": {"type": "GradientCumulativeFp16OptimizerHook", "cumulative_iters": 2,
                                        "loss_scale": "dynamic", "grad_clip": {"max_norm": 35, "norm_type": 2}}}, "c")
    assert override_line(t) == "schedule=fixed grad=clip grad.accumulate=2 grad.remainder=mmcv trainer.amp=fp16"


def test_shipped_options_are_selected_when_they_match():
    t = translate({"optimizer": {"type": "AdamW", "lr": 1e-3, "weight_decay": 0.05, "paramwise_cfg": {
        "custom_keys": {"backbone": {"lr_mult": 0.1, "decay_mult": 0.9}, "head": {"lr_mult": 10}}}}}, "c")
    assert "paramwise=backbone_lr" in override_line(t)
    assert "'++paramwise.custom_keys={head:{lr_mult:10}}'" in override_line(t)
    t = translate({"optimizer_config": {"grad_clip": {"max_norm": 10}}}, "c")
    assert override_line(t) == "schedule=fixed grad.clip.max_norm=10"


@pytest.mark.parametrize("value,text", [
    (None, "null"), (True, "true"), (3, "3"), (1e-05, "1e-05"), (float("inf"), "inf"), ("cos", "cos"),
    ("null", "'null'"), ("a b", "'a b'"), ("it's", "'it\\'s'"), ([1, [2.5, None]], "[1,[2.5,null]]"),
    ({"backbone.cls_token": {"decay_mult": 0.0}}, "{backbone.cls_token:{decay_mult:0.0}}"),
])
def test_values_are_written_in_hydra_grammar(value, text):
    assert hydra_value(value) == text
    parsed = compose_config([f"+optimizer.x={text}"]).optimizer.x
    assert (OmegaConf.to_container(parsed) if OmegaConf.is_config(parsed) else parsed) == value


def test_a_custom_key_hydra_cannot_spell_is_an_error_for_the_override_line(tmp_path, capsys):
    path = write(tmp_path, "c.py", "optimizer = dict(type='SGD', lr=0.1, paramwise_cfg=dict(custom_keys={"
                                   "'a b': dict(lr_mult=2)}))\n")
    with pytest.raises(SystemExit) as err:
        main([str(path), "--overrides"])
    assert err.value.code == 2 and "cannot be written on the command line" in capsys.readouterr().err
    main([str(path)])
    assert "a b:" in capsys.readouterr().out


# --- curves: the imported config against the hand-written recipe ---------------------------------------


@pytest.mark.parametrize("name", ["tutorial_step", "tutorial_cosine", "tutorial_poly", "tutorial_warmup_linear",
                                  "tutorial_warmup_exp", "tutorial_cyclic"])
def test_imported_curve_equals_the_hand_written_recipes(name):
    """conf/experiment/<name>.yaml is written by hand; the import of the MMCV snippet, applied
    on top of it, changes no lr or momentum of any step (a 100-epoch run of 50 steps each)."""
    run = [f"+experiment={name}", "trainer.max_epochs=100"]
    by_hand = curves(compose_config(run), iters_per_epoch=50)
    from_mmcv = curves(compose_config([*run, *shlex.split(imported(CONFIGS / f"{name}.py"))]), iters_per_epoch=50)
    assert by_hand["max_iters"] == from_mmcv["max_iters"] == 5000
    for a, b in zip(by_hand["groups"], from_mmcv["groups"], strict=True):
        np.testing.assert_array_equal(a["lr"], b["lr"])
        np.testing.assert_array_equal(a["momentum"], b["momentum"])


# --- the command line -------------------------------------------------------------------------------------


def test_output_file_and_report(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "exp" / "resnet.yaml"
    main(["tests/fixtures/mmcv_configs/resnet18_cifar10.py", "-o", str(out)])
    captured = capsys.readouterr()
    assert captured.out == f"wrote {out}. Use: copy it to conf/experiment/NAME.yaml, then python train.py " \
                           "+experiment=NAME\n"
    assert "optkit-from-mmcv: not translated: model: models are optkit options" in captured.err
    text = out.read_text()
    assert text.startswith("# @package _global_\n") and "#   model: models are optkit options" in text


@pytest.mark.parametrize("args,message", [
    (["nowhere.py"], "optkit-from-mmcv: error: nowhere.py: cannot read (No such file or directory)\n"),
    (["tests/fixtures/mmcv_configs/tutorial_grad_clip_no_delete.py"], "optimizer_config.grad_clip is a dict here"),
])
def test_unreadable_input_is_one_line_and_exit_2(args, message, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) as err:
        main(args)
    captured = capsys.readouterr()
    assert err.value.code == 2 and message in captured.err and captured.err.count("\n") == 1 and not captured.out


@pytest.mark.slow
def test_console_entry_and_script():
    entry = Path(sys.executable).parent / "optkit-from-mmcv"
    for command in ([str(entry)], [sys.executable, "scripts/from_mmcv.py"]):
        done = subprocess.run([*command, "tests/fixtures/mmcv_configs/tutorial_cyclic.py", "--overrides"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout == EXPECTED["tutorial_cyclic"] + "\n" and not done.stderr
