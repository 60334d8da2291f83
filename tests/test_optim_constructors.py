"""Optimizer constructors (default, layer_decay, a user's own), MuonAdamW, custom optimizers
and custom_imports from the command line, and the dry-run table."""
from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from torch import nn

from optkit import validate
from optkit.errors import ConfigError
from optkit.optim import MuonAdamW, build_optimizer
from optkit.optim.layer_decay import layer_id
from tests.conftest import REPO, compose_config
from tests.custom_models.layer_kinds import cnn, vit

USER_PACKAGE = {"PYTHONPATH": str(REPO / "tests")}  # tests/custom_opt plays a user's installed package
QUIET = ["logging.tensorboard=false", "logging.progress=false"]


@pytest.mark.parametrize("name,expected", [
    ("backbone.cls_token", 0), ("backbone.pos_embed", 0), ("backbone.patch_embed.weight", 0),
    ("backbone.blocks.0.norm1.weight", 1), ("backbone.blocks.3.mlp.3.bias", 4),
    ("backbone.norm.weight", 5), ("head.weight", 5),
    ("cls_token", 0), ("patch_embed.proj.weight", 0), ("blocks.2.attn.qkv.weight", 3),  # timm's names
    ("backbone.pos_embed_extra", 5), ("backbone.blocks_x.0.weight", 5),
])
def test_layer_ids_follow_beit_and_mae(name, expected):
    assert layer_id(name, depth=4) == expected


def test_layer_decay_by_hand_with_paramwise_rules():
    """vit (depth 2): lr × 0.5^(3 − layer); no_decay_bias_norm still applies in every layer."""
    cfg = compose_config(["optimizer_constructor=layer_decay", "optimizer_constructor.decay_rate=0.5",
                          "paramwise=no_decay_bias_norm", "optimizer.lr=1.0", "optimizer.weight_decay=0.1"])
    model = vit()
    optimizer = build_optimizer(model, cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    got = {names[id(p)]: (g["lr"], g["weight_decay"], g["name"]) for g in optimizer.param_groups for p in g["params"]}
    expected = {
        "backbone.cls_token": (0.125, 0.1, "layer0"), "backbone.pos_embed": (0.125, 0.1, "layer0"),
        # digits have one channel: the patch embedding is Conv2d(1, c, k), "depthwise" for MMCV,
        # so bias_decay_mult does not reach its bias (dwconv_decay_mult is unset: 1)
        "backbone.patch_embed.weight": (0.125, 0.1, "layer0"), "backbone.patch_embed.bias": (0.125, 0.1, "layer0"),
        "backbone.blocks.0.norm1.weight": (0.25, 0.0, "layer1.bias+norm"),
        "backbone.blocks.0.attn.qkv.weight": (0.25, 0.1, "layer1"),
        "backbone.blocks.0.attn.qkv.bias": (0.25, 0.0, "layer1.bias+norm"),
        "backbone.blocks.1.mlp.3.weight": (0.5, 0.1, "layer2"),
        "backbone.norm.bias": (1.0, 0.0, "layer3.bias+norm"), "head.bias": (1.0, 0.0, "layer3.bias+norm"),
        "head.weight": (1.0, 0.1, "layer3"),
    }
    for name, want in expected.items():
        assert got[name] == want, name
    assert len(optimizer.param_groups) == len({(lr, wd) for lr, wd, _ in got.values()}) == 7


def test_layer_decay_needs_a_vit():
    cfg = compose_config(["optimizer_constructor=layer_decay"])
    with pytest.raises(ConfigError) as err:
        build_optimizer(cnn(), cfg)
    assert err.value.key == "optimizer_constructor" and "blocks.N" in err.value.problem


def test_constructor_arguments_are_checked_before_building():
    with pytest.raises(ConfigError) as err:
        validate.check(compose_config(["optimizer_constructor=layer_decay",
                                       "optimizer_constructor._target_=optkit.optim.default_constructor"]))
    assert err.value.key == "optimizer_constructor.decay_rate" and "not an argument" in err.value.problem


def matrices_and_vectors() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))


def test_muon_adamw_splits_hidden_weights_and_keeps_group_values():
    model = matrices_and_vectors()
    cfg = compose_config(["optimizer=muon_adamw", "paramwise=no_norm_decay", "optimizer.lr=0.02"])
    optimizer = build_optimizer(model, cfg)
    muon, adamw = optimizer.parts
    assert isinstance(muon, torch.optim.Muon) and isinstance(adamw, torch.optim.AdamW)
    # the head (the last Linear) goes to AdamW with the vectors, as timm does (issue 15)
    assert [p for g in muon.param_groups for p in g["params"]] == [model[0].weight]
    assert any(p is model[3].weight for p in adamw.param_groups[0]["params"])
    assert [(g["name"], g["weight_decay"]) for g in optimizer.param_groups] == [
        ("default/muon", 0.1), ("default/adamw", 0.1), ("norm/adamw", 0.0)]
    assert "momentum" in optimizer.param_groups[0] and "momentum" not in optimizer.param_groups[1]
    assert adamw.defaults["fused"] is True  # fused: null → torch's fused AdamW on CPU


def steps(model, optimizer, n, seed):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        model(torch.randn(4, 6, generator=gen)).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()


def test_muon_adamw_resumes_exactly_from_its_state_dict():
    model = matrices_and_vectors()
    optimizer = MuonAdamW([{"params": list(model.parameters()), "name": "default"}], lr=0.02)
    steps(model, optimizer, 2, seed=1)
    for group in optimizer.param_groups:  # what the scheduler and momentum policy do
        group["lr"] *= 0.5
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())  # as on disk
    steps(model, optimizer, 2, seed=2)
    resumed = matrices_and_vectors()
    resumed.load_state_dict(saved_model)
    again = MuonAdamW([{"params": list(resumed.parameters()), "name": "default"}], lr=0.02)
    again.load_state_dict(saved_opt)
    assert [g["lr"] for g in again.parts[0].param_groups] == [0.01]  # the parts see the loaded groups
    steps(resumed, again, 2, seed=2)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), resumed.parameters()))


@pytest.mark.slow
def test_custom_optimizer_from_the_command_line(train_cli, tmp_path):
    out = train_cli(["model=mlp", "optimizer=custom", "optimizer._target_=custom_opt.my_optimizer.MyOptimizer",
                     "+optimizer.lr=0.05", "+optimizer.a=0.9", "+optimizer.b=1e-4", "+optimizer.c=1.0",
                     "custom_imports=[custom_opt.my_optimizer]", "trainer.max_iters=3", "logging.log_every=1",
                     *QUIET, f"hydra.run.dir={tmp_path}"], env=USER_PACKAGE)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert len(train) == 3 and all(math.isfinite(r["train/loss"]) for r in train)
    assert "momentum_buffer" in json.dumps(list(torch.load(tmp_path / "last.pt", weights_only=True)["optimizer"]
                                                ["state"][0]))


@pytest.mark.slow
def test_custom_optimizer_argument_typo_is_one_line(train_cli, tmp_path):
    out = train_cli(["optimizer=custom", "optimizer._target_=custom_opt.my_optimizer.MyOptimizer", "+optimizer.d=1",
                     f"hydra.run.dir={tmp_path}/run"], env=USER_PACKAGE)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        "optkit: config error: optimizer.d: not an argument of custom_opt.my_optimizer.MyOptimizer(lr, a, b, c); "
        "to change optimizer pick its option (optimizer=sgd) or start from optimizer=custom (got 'd')"]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_custom_imports_with_and_without_allow_failed_imports(train_cli, tmp_path):
    args = ["custom_imports=[custom_opt.my_optimizer,custom_opt.missing]", "trainer.dry_run=true",
            f"hydra.run.dir={tmp_path}"]
    refused = train_cli(args, env=USER_PACKAGE)
    assert refused.returncode == 2 and refused.stderr.startswith("optkit: config error: custom_imports: cannot import")
    allowed = train_cli([*args, "allow_failed_imports=true"], env=USER_PACKAGE)
    assert allowed.returncode == 0, allowed.stderr
    assert "optkit: warning: custom_imports: custom_opt.missing failed to import" in allowed.stderr


@pytest.mark.slow
def test_custom_constructor_from_the_command_line(train_cli, tmp_path):
    args = ["model=mlp", "optimizer=sgd", "optimizer.weight_decay=1e-4",
            "optimizer_constructor._target_=custom_opt.constructor.linear_probe", *QUIET]
    dry = train_cli([*args, "trainer.dry_run=true", f"hydra.run.dir={tmp_path}/dry"], env=USER_PACKAGE)
    assert dry.returncode == 0, dry.stderr
    rows = {line.split()[0]: line.split() for line in dry.stdout.splitlines() if line.startswith("probe")}
    assert rows["probe"][1:5] == ["1", "2,560", "0.001", "0.0001"] and rows["probe.bias"][4] == "0"
    out = train_cli([*args, "trainer.max_iters=3", f"hydra.run.dir={tmp_path}/run"], env=USER_PACKAGE)
    assert out.returncode == 0, out.stderr
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert [g["name"] for g in state["optimizer"]["param_groups"]] == ["probe", "probe.bias"]


@pytest.mark.slow
def test_dry_run_prints_optimizer_kernel_and_groups_without_training(train_cli, tmp_path):
    out = train_cli(["model=vit_tiny", "paramwise=no_decay_bias_norm", "optimizer_constructor=layer_decay",
                     "trainer.dry_run=true", f"hydra.run.dir={tmp_path}"])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("optimizer: AdamW, step kernel: fused (optimizer.fused=null, optimizer.foreach=null); "
                               "constructor: optkit.optim.layer_decay_constructor")
    assert lines[1].split()[:5] == ["group", "tensors", "elements", "lr", "weight_decay"]
    names = [line.split()[0] for line in lines[3:10]]
    assert names == ["layer0", "layer1.bias+norm", "layer1", "layer2.bias+norm", "layer2", "layer3.bias+norm", "layer3"]
    assert not (tmp_path / "last.pt").exists() and not (tmp_path / "metrics.jsonl").exists()


@pytest.mark.slow
@pytest.mark.parametrize("args,key", [
    (["optimizer=lbfgs", "grad.accumulate=2"], "grad.accumulate"),
    (["+optimizer.nesterov=true"], "optimizer.nesterov"),
    (["+paramwise.custom_keys={backbone.cls_tokn:{decay_mult:0}}", "model=vit_tiny"],
     "paramwise.custom_keys.backbone.cls_tokn: matches no parameter name"),
    (["paramwise.custom_keys={head:{lr_mult:10}}"], "paramwise.custom_keys.head: unknown key (a new key is added with +"),
])
def test_optimizer_and_paramwise_errors_are_one_line_exit_2(train_cli, tmp_path, args, key):
    out = train_cli([*args, f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"optkit: config error: {key}"), out.stderr
