"""optkit.optim.muon: `optimizer=muon` trains any model. Muon gets the hidden weights (timm's
rule), AdamW the head, embeddings, tokens, norms and biases; conv kernels are stepped as
(out, in·k·k) matrices by torch's own Muon step; the split is in the dry run."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from optkit.instantiate import instantiate_at
from optkit.optim import build_optimizer
from optkit.optim.muon import FlatMuon, MuonAdamW, hidden_weights, matrix_shaped
from optkit.train import run
from tests.conftest import compose_config

# model option → the parameters Muon steps (everything else goes to AdamW)
HIDDEN = {
    "mlp": ["body.1.weight", "body.3.weight"],
    "cnn": ["stem.3.weight", "pwconv.weight"],  # stem.0 has one input channel, dwconv is depthwise
    "vit_tiny": [f"backbone.blocks.{i}.{name}.weight" for i in range(4)
                 for name in ("attn.qkv", "attn.proj", "mlp.0", "mlp.3")],
}


def built(option: str) -> nn.Module:
    cfg = compose_config([f"model={option}"])
    return instantiate_at("model", cfg.model, in_shape=(1, 8, 8), num_classes=10)


@pytest.mark.parametrize("option", HIDDEN)
def test_hidden_weights_follow_timm(option):
    model = built(option)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[i] for i in hidden_weights(model)) == sorted(HIDDEN[option])


@pytest.mark.parametrize("shape,expected", [
    ((8, 4), True), ((64, 32, 3, 3), True), ((64, 1, 3, 3), False), ((1, 17, 64), False), ((64,), False), ((), False),
])
def test_matrix_shape_rule(shape, expected):
    assert matrix_shaped(torch.empty(shape)) == expected


def test_embeddings_and_the_head_go_to_adamw():
    model = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 8), nn.Linear(8, 3))
    assert hidden_weights(model) == {id(model[1].weight)}


@pytest.mark.parametrize("option", HIDDEN)
def test_optimizer_muon_splits_every_group(option):
    cfg = compose_config([f"model={option}", "optimizer=muon", "paramwise=no_decay_bias_norm"])
    model = built(option)
    optimizer = build_optimizer(model, cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    muon, adamw = optimizer.parts
    assert isinstance(optimizer, MuonAdamW) and isinstance(muon, torch.optim.Muon)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["fused"] is True
    assert sorted(names[id(p)] for g in muon.param_groups for p in g["params"]) == sorted(HIDDEN[option])
    assert {n for g in adamw.param_groups for p in g["params"] for n in [names[id(p)]]} == set(names.values()) - set(
        HIDDEN[option])
    assert [g["name"].split("/") for g in optimizer.param_groups][:2] == [["default", "muon"], ["default", "adamw"]]
    assert optimizer.param_groups[2]["name"] in ("bias/adamw", "bias+norm/adamw")
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.1, 0.0]
    assert muon.defaults["adjust_lr_fn"] is None  # optimizer=muon keeps torch.optim.Muon's defaults


def steps(model, optimizer, x, n=3):
    for _ in range(n):
        model(x).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()


@pytest.mark.parametrize("adjust_lr_fn", [None, "match_rms_adamw"])
def test_flat_muon_on_matrices_is_torch_muon(adjust_lr_fn):
    torch.manual_seed(0)
    ours = nn.Sequential(nn.Linear(6, 8, bias=False), nn.Tanh(), nn.Linear(8, 4, bias=False))
    ref = copy.deepcopy(ours)
    x = torch.randn(5, 6)
    steps(ours, FlatMuon(ours.parameters(), lr=0.02, adjust_lr_fn=adjust_lr_fn), x)
    steps(ref, torch.optim.Muon(ref.parameters(), lr=0.02, adjust_lr_fn=adjust_lr_fn), x)
    assert all(torch.equal(p, q) for p, q in zip(ours.parameters(), ref.parameters()))


def test_flat_muon_steps_a_conv_kernel_as_its_flattened_matrix():
    """timm's `flatten`: the kernel (out, in, k, k) steps as the matrix (out, in·k·k) under
    torch.optim.Muon, lr adjustment from that matrix's shape included."""
    torch.manual_seed(0)
    kernel = nn.Parameter(torch.randn(8, 4, 3, 3))
    matrix = nn.Parameter(kernel.detach().reshape(8, 36).clone())
    ours = FlatMuon([kernel], lr=0.05, adjust_lr_fn="match_rms_adamw")
    ref = torch.optim.Muon([matrix], lr=0.05, adjust_lr_fn="match_rms_adamw")
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        grad = torch.randn(8, 4, 3, 3, generator=gen)
        kernel.grad, matrix.grad = grad.clone(), grad.reshape(8, 36).clone()
        ours.step()
        ref.step()
    assert torch.equal(kernel.detach().reshape(8, 36), matrix.detach())
    assert ours.state[kernel]["momentum_buffer"].shape == kernel.shape


def test_flat_muon_keeps_torch_argument_checks():
    with pytest.raises(ValueError, match="Adjust learning rate function"):
        FlatMuon([torch.zeros(4, 4, 3, 3, requires_grad=True)], adjust_lr_fn="nope")


def test_dry_run_shows_the_split(capsys):
    run(compose_config(["model=vit_tiny", "optimizer=muon", "trainer.dry_run=true"]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("optimizer: MuonAdamW, step kernel: FlatMuon for-loop, AdamW fused")
    rows = {line.split()[0]: line.split()[1:3] for line in lines[3:5]}
    assert rows == {"default/muon": ["16", "131,072"], "default/adamw": ["40", "5,066"]}
