"""AMP: bf16 autocast trains on CPU; fp16 is CUDA only with a one-line error; the GradScaler
path (exercised on CPU with torch's CPU GradScaler) unscales before clipping, skips steps with
non-finite gradients, counts them on the device and reports them at log points."""
from __future__ import annotations

import contextlib
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optkit import checkpoint
from optkit.grad import GradStep, Window
from optkit.train import run
from tests.conftest import compose_config

QUIET = ["logging.tensorboard=false", "logging.progress=false"]


def test_bf16_autocast_trains_on_cpu(tmp_path):
    """Same recipe in fp32 and bf16: bf16 really ran in lower precision (the weights differ),
    kept fp32 master weights, and learned as well."""
    common = ["model=cnn", "trainer.max_epochs=2", "trainer.device=cpu", *QUIET]
    acc = {}
    for amp in ("null", "bf16"):
        acc[amp] = run(compose_config([*common, f"trainer.amp={amp}"]), run_dir=tmp_path / amp)
    fp32 = torch.load(tmp_path / "null" / checkpoint.LAST, weights_only=True)["model"]
    bf16 = torch.load(tmp_path / "bf16" / checkpoint.LAST, weights_only=True)["model"]
    assert all(bf16[k].dtype == fp32[k].dtype for k in fp32)
    assert any(not torch.equal(bf16[k], fp32[k]) for k in fp32 if fp32[k].is_floating_point())
    assert acc["bf16"] > 0.85 and abs(acc["bf16"] - acc["null"]) < 0.03


@pytest.mark.slow
def test_fp16_on_cpu_is_one_line_and_exit_2(train_cli, tmp_path):
    out = train_cli(["trainer.device=cpu", "trainer.amp=fp16", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "optkit: config error: trainer.amp: fp16 autocast needs a CUDA device; use bf16 on CPU "
        "(got 'fp16'; did you mean bf16?)"]
    assert not (tmp_path / "run").exists()  # caught before Hydra creates the run directory


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="device=auto resolves to CUDA here")
def test_fp16_with_auto_device_and_no_cuda_is_one_line_and_exit_2(train_cli, tmp_path):
    out = train_cli(["trainer.amp=fp16", "model=mlp", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("optkit: config error: trainer.amp: fp16 autocast")
    assert "Traceback" not in out.stderr


def optimizers(model: nn.Module) -> dict[str, torch.optim.Optimizer]:
    return {"sgd": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
            "adamw_fused": torch.optim.AdamW(model.parameters(), lr=0.01, fused=True)}


@pytest.mark.parametrize("name", ["sgd", "adamw_fused"])
def test_grad_scaler_skips_non_finite_steps_and_counts_them(name):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    optimizer = optimizers(model)[name]
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=1000)
    poison = [False]

    def loss_fn(out, target):  # poisoned: the loss stays finite, its gradient is NaN (d√z/dz at 0, times 0)
        return F.mse_loss(out, target) + (torch.sqrt(out * 0).sum() if poison[0] else 0)

    step = GradStep(model, optimizer, loss_fn, max_norm=1.0, scaler=scaler)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    window = Window((torch.arange(4), torch.arange(4, 8)), (0.5, 0.5), 0)

    assert step(window, lambda i: (x[i], y[i])).nonfinite is None
    after_good = [p.detach().clone() for p in model.parameters()]
    assert step.amp_values() == {"train/skipped_steps": 0, "train/loss_scale": 2.0**10}
    poison[0] = True
    for _ in range(2):
        assert step(window, lambda i: (x[i], y[i])).nonfinite is None  # the scaler's business, not optkit's
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), after_good))  # skipped, twice
    poison[0] = False
    step(window, lambda i: (x[i], y[i]))
    assert not all(torch.equal(p, q) for p, q in zip(model.parameters(), after_good))
    assert step.amp_values() == {"train/skipped_steps": 2, "train/loss_scale": 2.0**8}  # backoff 0.5 per skip
    assert step.amp_values()["train/skipped_steps"] == 0  # counted since the previous read


def test_grad_scaler_steps_equal_unscaled_steps():
    """A power-of-two loss scale is exact: with clipping and a fused AdamW the scaled path
    gives the same weights as the plain one."""
    x, y = torch.randn(12, 4, generator=torch.Generator().manual_seed(1)), torch.randn(12, 2)
    weights = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=2.0**14)):
        torch.manual_seed(0)
        model = nn.Linear(4, 2)
        step = GradStep(model, optimizers(model)["adamw_fused"], F.mse_loss, max_norm=0.1, scaler=scaler)
        for start in range(0, 12, 6):
            window = Window((torch.arange(start, start + 4), torch.arange(start + 4, start + 6)), (4 / 6, 2 / 6), 0)
            step(window, lambda i: (x[i], y[i]))
        weights.append([p.detach().clone() for p in model.parameters()])
    for p, q in zip(*weights):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_loss_scaling_is_logged_at_log_points_and_checkpointed(tmp_path, monkeypatch):
    """The fp16 run's GradScaler path through the loop, on CPU: torch's CPU GradScaler in
    place of fp16 autocast (which needs CUDA)."""
    monkeypatch.setattr("optkit.train.amp_setup", lambda amp, device: (
        contextlib.nullcontext, torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=5)))
    run(compose_config(["model=mlp", "trainer.max_iters=20", "logging.log_every=5", "grad=clip", *QUIET]),
        run_dir=tmp_path)
    train = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r["kind"] == "train"]
    assert [r["train/skipped_steps"] for r in train] == [0, 0, 0, 0]
    assert [r["train/loss_scale"] for r in train] == [2.0**9, 2.0**10, 2.0**11, 2.0**12]  # ×2 every 5 steps
    assert torch.load(tmp_path / checkpoint.LAST, weights_only=True)["scaler"]["scale"] == 2.0**12


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 autocast needs CUDA")
@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_amp_trains_on_cuda_and_logs_loss_scaling(tmp_path, amp):
    cfg = compose_config(["model=cnn", "trainer.max_epochs=4", "trainer.device=cuda", f"trainer.amp={amp}",
                          "grad=clip", "grad.clip.max_norm=1.0", "grad.accumulate=2", "logging.log_every=4", *QUIET])
    assert run(cfg, run_dir=tmp_path) > 0.8
    train = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r["kind"] == "train"]
    assert len(train) == 12 and math.isfinite(train[-1]["train/grad_norm"]) and train[-1]["train/grad_norm"] > 0
    if amp == "fp16":  # early steps may overflow at the initial scale 2^16; most must not
        assert sum(r["train/skipped_steps"] for r in train) < 12 and train[-1]["train/loss_scale"] > 0
    else:
        assert "train/skipped_steps" not in train[-1]
