"""Clipping: the same numbers as torch.nn.utils.clip_grad_norm_ / clip_grad_value_, once per
optimizer step on the accumulated gradient, and the logged `train/grad_norm` is the
pre-clip norm of the step's gradient."""
from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optkit import checkpoint
from optkit.data import epoch_order, load_digits
from optkit.grad import GradStep, Window
from optkit.models import MLP
from optkit.errors import ConfigError
from optkit.train import run
from optkit.validate import check
from tests.conftest import compose_config


def model_with_grads(seed: int = 0) -> nn.Module:
    """Parameters of several shapes and magnitudes; one frozen, one without a gradient."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(7, 5), nn.LayerNorm(5), nn.Linear(5, 3), nn.Linear(3, 2))
    model[1].bias.requires_grad_(False)
    for i, p in enumerate(model.parameters()):
        if p.requires_grad and i != 5:  # model[2].bias keeps grad None
            p.grad = torch.randn_like(p) * 10 ** (i % 3 - 1)
    return model


def copy_of(model: nn.Module) -> nn.Module:
    other = model_with_grads()
    for p, q in zip(model.parameters(), other.parameters()):
        q.grad = None if p.grad is None else p.grad.clone()
    return other


CLIPS = [(max_norm, norm_type) for max_norm in (0.3, 5.0, 1e3) for norm_type in (1.0, 2.0, 3.5, math.inf)]


@pytest.mark.parametrize("max_norm,norm_type", CLIPS)
def test_clip_by_norm_equals_torch(max_norm, norm_type):
    ours, ref = model_with_grads(), copy_of(model_with_grads())
    step = GradStep(ours, torch.optim.SGD(ours.parameters(), lr=0.1), F.mse_loss, max_norm=max_norm,
                    norm_type=norm_type)
    norm = step.clip(want_norm=False)
    ref_norm = nn.utils.clip_grad_norm_(ref.parameters(), max_norm, norm_type)
    assert torch.equal(norm, ref_norm)
    for p, q in zip(ours.parameters(), ref.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad)
    grads = [p.grad.double() for p in model_with_grads().parameters() if p.grad is not None]
    by_hand = max(g.abs().max() for g in grads) if math.isinf(norm_type) else \
        sum((g.abs() ** norm_type).sum() for g in grads) ** (1 / norm_type)
    assert norm.item() == pytest.approx(by_hand.item(), rel=1e-6)


@pytest.mark.parametrize("clip_value", [0.01, 0.5, 100.0])
@pytest.mark.parametrize("max_norm", [None, 2.0])
def test_clip_by_value_equals_torch_after_the_norm(clip_value, max_norm):
    ours, ref = model_with_grads(), copy_of(model_with_grads())
    step = GradStep(ours, torch.optim.SGD(ours.parameters(), lr=0.1), F.mse_loss, max_norm=max_norm,
                    clip_value=clip_value)
    step.clip(want_norm=False)
    if max_norm is not None:
        nn.utils.clip_grad_norm_(ref.parameters(), max_norm)
    nn.utils.clip_grad_value_(ref.parameters(), clip_value)
    for p, q in zip(ours.parameters(), ref.parameters()):
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad)


def test_norm_without_clipping_only_when_asked():
    model = model_with_grads()
    before = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    step = GradStep(model, torch.optim.SGD(model.parameters(), lr=0.1), F.mse_loss)
    assert step.clip(want_norm=False) is None
    norm = step.clip(want_norm=True)
    assert torch.equal(norm, nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None]))
    assert all(b is None or torch.equal(b, p.grad) for b, p in zip(before, model.parameters()))


def reference_step(model: nn.Module, batches, weights, max_norm: float, lr: float) -> torch.Tensor:
    """A hand-written accumulation step: weighted losses, backward, clip once, step."""
    for (x, y), w in zip(batches, weights):
        (F.mse_loss(model(x), y) * w).backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return norm


@pytest.mark.parametrize("scaled", [False, True])
def test_clip_once_on_the_accumulated_unscaled_gradient(scaled):
    """Three micro-batches, one clip of their summed gradient. With a GradScaler (on CPU,
    scale 2^12) the clip must see unscaled gradients, so the result is the same."""
    torch.manual_seed(1)
    data = [(torch.randn(n, 4), torch.randn(n, 2)) for n in (3, 3, 2)]
    xs, ys = torch.cat([x for x, _ in data]), torch.cat([y for _, y in data])
    weights = (3 / 8, 3 / 8, 2 / 8)
    model, ref = nn.Linear(4, 2), nn.Linear(4, 2)
    ref.load_state_dict(model.state_dict())
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12) if scaled else None
    step = GradStep(model, torch.optim.SGD(model.parameters(), lr=0.5), F.mse_loss, max_norm=0.05, scaler=scaler)
    index = (torch.arange(0, 3), torch.arange(3, 6), torch.arange(6, 8))
    result = step(Window(index, weights, 0), lambda i: (xs[i], ys[i]))
    ref_norm = reference_step(ref, data, weights, 0.05, 0.5)
    assert result.grad_norm.item() == pytest.approx(ref_norm.item(), rel=1e-6) and ref_norm > 0.05
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("overrides,key", [
    (["grad=clip", "grad.clip.norm_type=0"], "grad.clip.norm_type"),
    (["grad=clip", "grad.clip.norm_type=-2"], "grad.clip.norm_type"),
    (["grad.clip.max_norm=0"], "grad.clip.max_norm"),
    (["grad.clip_value=-1"], "grad.clip_value"),
    (["grad.accumulate=0"], "grad.accumulate"),
    (["grad.remainder=timm"], "grad.remainder"),
])
def test_bad_grad_settings_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as err:
        check(compose_config(overrides))
    assert err.value.key == key


def test_presets_and_turning_clipping_off():
    assert dict(compose_config(["grad=clip"]).grad.clip) == {"max_norm": 35.0, "norm_type": 2.0}
    assert compose_config(["grad=clip", "grad.clip=null"]).grad.clip is None  # MMCV's _delete_=True
    assert compose_config(["grad=clip", "grad.clip.max_norm=null"]).grad.clip.max_norm is None
    assert compose_config(["grad=clip", "grad.clip.norm_type=inf"]).grad.clip.norm_type == math.inf
    check(compose_config(["grad=clip", "grad.clip.norm_type=inf", "grad.clip_value=0.1"]))


@pytest.mark.parametrize("grad", [
    ["grad=clip", "grad.clip.max_norm=0.5"],
    ["grad=clip", "grad.clip.max_norm=0.05", "grad.clip.norm_type=inf"],
    ["grad=default"],
])
def test_logged_grad_norm_is_the_pre_clip_norm(tmp_path, grad):
    """Train 3 steps; resume for a 4th with log_every=1 and read `train/grad_norm` of step 4
    from metrics.jsonl; compute that step's gradient by hand from the step-3 weights."""
    args = ["model=mlp", "optimizer=sgd", "optimizer.lr=0.1", "schedule=fixed", "data.batch_size=64",
            "logging.tensorboard=false", "logging.progress=false", "logging.log_every=1", *grad]
    run(compose_config([*args, "trainer.max_iters=3"]), run_dir=tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b" / "metrics.jsonl").unlink()
    run(compose_config([*args, "trainer.max_iters=4"]), run_dir=tmp_path / "b")
    logged = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in logged if r["kind"] == "train"]
    assert [r["step"] for r in logged] == [4]

    cfg = compose_config(args)
    data = load_digits(val_fraction=cfg.data.val_fraction, split_seed=cfg.data.split_seed)
    model = MLP(in_shape=data.in_shape, num_classes=data.num_classes, hidden=list(cfg.model.hidden), dropout=0.0)
    model.load_state_dict(torch.load(tmp_path / "a" / checkpoint.LAST, weights_only=True)["model"])
    index = epoch_order(len(data.train), 0, cfg.trainer.seed, True)[3 * 64 : 4 * 64]
    x, y = data.train_batch(index)
    F.cross_entropy(model(x), y).backward()
    norm_type = 2.0 if cfg.grad.clip.max_norm is None else cfg.grad.clip.norm_type
    true_norm = nn.utils.get_total_norm([p.grad.double() for p in model.parameters()], norm_type)
    assert logged[0]["train/grad_norm"] == pytest.approx(true_norm.item(), rel=1e-5)
    if cfg.grad.clip.max_norm is not None:
        assert true_norm > cfg.grad.clip.max_norm  # clipping was active: a post-clip norm would be max_norm
