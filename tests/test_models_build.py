"""`model=custom`, `trainer.load_from` and `trainer.compile`: built from the callable's own
arguments, weights loaded from a file with a one-line report, names unchanged by compiling."""
from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from optkit.data import DataInfo
from optkit.errors import CheckpointError, ConfigError
from optkit.load_from import load_weights
from optkit.models import MLP
from optkit.models.build import build_model
from optkit.train import run
from tests.conftest import compose_config, run_train

INFO = DataInfo((1, 8, 8), 10, 1000)


@pytest.mark.parametrize("node,shapes", [
    ({"_target_": "examples.mylab.model.make_net", "width": 16, "n_out": 3}, [(16, 2), (16,), (16, 16), (16,), (3, 16), (3,)]),
    ({"_target_": "tests.custom_models.factories.wide", "width": 5}, [(5, 64), (5,), (10, 5), (10,)]),
    ({"_target_": "optkit.models.MLP", "hidden": [7], "dropout": 0.0}, [(7, 64), (7,), (10, 7), (10,)]),
    ({"_target_": "optkit.models.MLP", "hidden": [7], "dropout": 0.0, "num_classes": 4}, [(7, 64), (7,), (4, 7), (4,)]),
])
def test_data_arguments_are_passed_only_when_taken(node, shapes):
    model = build_model(OmegaConf.create(node), INFO)
    assert [tuple(p.shape) for p in model.parameters()] == shapes


@pytest.mark.parametrize("node,message", [
    ({"_target_": "tests.custom_models.factories.picky", "width": 12},
     "model: cannot build tests.custom_models.factories.picky: width must be a multiple of 8"),
    ({"_target_": "tests.custom_models.factories.picky", "depth": 8}, "model: cannot build"),
    ({"_target_": "tests.custom_models.factories.not_a_model", "width": 8}, "model._target_: must return a torch.nn.Module"),
    ({"_target_": "tests.custom_models.nowhere.net"}, "model._target_: cannot import"),
])
def test_a_model_that_cannot_be_built_is_one_config_error(node, message):
    with pytest.raises(ConfigError) as err:
        build_model(OmegaConf.create(node), INFO)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def mlp(seed: int, hidden: list[int]) -> nn.Module:
    torch.manual_seed(seed)
    return MLP(in_shape=(1, 8, 8), num_classes=10, hidden=hidden, dropout=0.0)


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"model": sd, "progress": {}},  # an optkit checkpoint
    lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},  # MMCV, saved from DDP
    lambda sd: {f"_orig_mod.{k}": v for k, v in sd.items()},  # saved from a torch.compile'd model
])
def test_load_from_takes_the_weights_of_any_kind_of_file(tmp_path, wrap):
    source = mlp(0, [16])
    torch.save(wrap(source.state_dict()), tmp_path / "w.pt")
    target = mlp(1, [16])
    report = load_weights(target, str(tmp_path / "w.pt"), strict=True)
    assert report == f"load_from {tmp_path / 'w.pt'}: 4 tensors loaded; missing 0; unexpected 0"
    for a, b in zip(source.state_dict().values(), target.state_dict().values()):
        assert torch.equal(a, b)


def test_load_from_reports_or_refuses_what_does_not_fit(tmp_path):
    weights = mlp(0, [16]).state_dict()
    weights["extra.weight"] = torch.zeros(1)
    del weights["head.bias"]
    torch.save(weights, tmp_path / "w.pt")
    target = mlp(1, [16])
    before = target.head.bias.clone()
    with pytest.raises(ConfigError, match="missing head.bias; unexpected extra.weight"):
        load_weights(target, str(tmp_path / "w.pt"), strict=True)
    report = load_weights(target, str(tmp_path / "w.pt"), strict=False)
    assert report.endswith("3 tensors loaded; missing 1 (head.bias); unexpected 1 (extra.weight)")
    assert torch.equal(target.head.bias, before) and torch.equal(target.head.weight, weights["head.weight"])
    with pytest.raises(ConfigError, match=r"shapes differ from the model's: body.1.weight \[16, 64\] vs \[8, 64\]"):
        load_weights(mlp(1, [8]), str(tmp_path / "w.pt"), strict=False)
    torch.save({"not": "weights"}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError):
        load_weights(target, str(tmp_path / "bad.pt"), strict=False)


def test_compiling_in_place_keeps_parameter_and_checkpoint_names():
    model = mlp(0, [16])
    names = [name for name, _ in model.named_parameters()]
    keys = list(model.state_dict())
    model.compile()
    assert [name for name, _ in model.named_parameters()] == names and list(model.state_dict()) == keys


def val_records(run_dir) -> list[dict]:
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "val"]


@pytest.mark.parametrize("monitor,mode,pick", [("val/loss", "min", min), ("val/acc", "max", max)])
def test_the_monitor_picks_best_pt_and_the_returned_value(tmp_path, monitor, mode, pick):
    cfg = compose_config(["model=mlp", "model.hidden=[16]", "optimizer=sgd", "optimizer.lr=2.0", "schedule=fixed",
                          "trainer.max_epochs=6", "logging.progress=false", "logging.tensorboard=false",
                          f"trainer.monitor={monitor}", f"trainer.monitor_mode={mode}", "trainer.device=cpu"])
    best = run(cfg, run_dir=tmp_path)
    values = [r[monitor] for r in val_records(tmp_path)]
    assert len(values) == 6 and best == pytest.approx(pick(values), rel=1e-6)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)["progress"]
    assert saved["best"] == best and saved["last_val"][monitor] == best
    assert {"val/acc", "val/acc5", "val/loss"} <= set(val_records(tmp_path)[0])


def test_load_from_starts_a_run_from_those_weights_and_resume_wins(tmp_path, capsys):
    common = ["model=mlp", "model.hidden=[16]", "trainer.max_epochs=1", "logging.progress=false",
              "logging.tensorboard=false", "trainer.device=cpu", "optimizer.lr=1e-9", "schedule=fixed"]
    run(compose_config(common), run_dir=tmp_path / "a")
    source = tmp_path / "a" / "last.pt"
    run(compose_config([*common, f"trainer.load_from={source}", "trainer.seed=5"]), run_dir=tmp_path / "b")
    assert f"load_from {source}: 4 tensors loaded; missing 0; unexpected 0" in capsys.readouterr().out
    a, b = (torch.load(tmp_path / d / "last.pt", weights_only=True)["model"] for d in ("a", "b"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # lr 1e-9: the weights stay where they began
    other = tmp_path / "other.pt"
    torch.save(mlp(9, [16]).state_dict(), other)
    run(compose_config([*common, "trainer.max_epochs=2", f"trainer.load_from={other}", "trainer.seed=5"]),
        run_dir=tmp_path / "b")
    out = capsys.readouterr().out
    assert "resumed from" in out and "tensors loaded" not in out
    resumed = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    assert all(torch.allclose(a[k], resumed[k], atol=1e-6) for k in a)


@pytest.mark.slow
def test_a_compiled_run_trains_the_eager_run_under_the_same_names(tmp_path):
    common = ["model=mlp", "model.hidden=[32]", "optimizer=sgd", "optimizer.lr=0.05", "trainer.max_iters=12",
              "+paramwise.custom_keys.head={lr_mult:0.5}", "logging.progress=false", "logging.tensorboard=false",
              "trainer.device=cpu"]
    for name, extra in (("eager", []), ("compiled", ["trainer.compile=true"])):
        out = run_train([*common, *extra, f"hydra.run.dir={tmp_path / name}"], timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
    eager, compiled = (torch.load(tmp_path / n / "last.pt", weights_only=True) for n in ("eager", "compiled"))
    assert list(compiled["model"]) == list(eager["model"]) == ["body.1.weight", "body.1.bias", "head.weight", "head.bias"]
    assert [g["name"] for g in compiled["optimizer"]["param_groups"]] == [g["name"] for g in eager["optimizer"]["param_groups"]]
    assert [g["lr"] for g in compiled["optimizer"]["param_groups"]] == [g["lr"] for g in eager["optimizer"]["param_groups"]]
    for key in eager["model"]:
        assert torch.allclose(eager["model"][key], compiled["model"][key], atol=1e-5), key
