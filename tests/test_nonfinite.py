"""Non-finite losses and gradients (`trainer.nonfinite`): never applied; `stop` saves the
weights from before the bad update and exits 3, `skip` counts and logs the step and stops
after `max_nonfinite` in a row. NaNs come from tests/custom_models/nonfinite.py."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optkit import checkpoint
from optkit.errors import NonFiniteError
from optkit.grad import GradStep, Window
from optkit.train import run
from tests.conftest import compose_config

NAN_MODEL = "model._target_=tests.custom_models.nonfinite.NonFiniteMLP"
COMMON = ["model=mlp", "model.dropout=0.1", "optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9",
          "schedule=fixed", "trainer.device=cpu", "trainer.deterministic=true", "logging.log_every=2",
          "logging.tensorboard=false", "logging.progress=false", "trainer.resume=null"]


def nan_run(tmp_path, name, *extra, nan_at=5, what="loss", repeat=False, max_iters=10):
    cfg = compose_config([*COMMON, NAN_MODEL, f"+model.nan_at={nan_at}", f"+model.what={what}",
                          f"+model.repeat={str(repeat).lower()}", f"trainer.max_iters={max_iters}", *extra])
    return run(cfg, run_dir=tmp_path / name)


def last(tmp_path, name):
    return torch.load(tmp_path / name / checkpoint.LAST, weights_only=True)


def assert_same_state(a, b):
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for i, state in a["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"]), i


# --- GradStep: what is checked, and that nothing is applied ---------------------------------


def one_step(loss_fn, **kwargs):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)
    step = GradStep(model, optimizer, loss_fn, **kwargs)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    window = Window((torch.arange(4), torch.arange(4, 8)), (0.5, 0.5), 0)
    before = [p.detach().clone() for p in model.parameters()]
    result = step(window, lambda i: (x[i], y[i]))
    unchanged = all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert all(p.grad is None for p in model.parameters())  # dropped either way
    return result, unchanged, optimizer


def nan_loss(out, target):
    return F.mse_loss(out, target) * float("nan")


def nan_gradient(out, target):  # finite loss; d√z/dz at 0 is inf, times 0: NaN
    return F.mse_loss(out, target) + torch.sqrt(out * 0).sum()


@pytest.mark.parametrize("loss_fn,what", [(F.mse_loss, None), (nan_loss, "loss"), (nan_gradient, "gradient")])
@pytest.mark.parametrize("clip", [None, 1.0])
def test_a_non_finite_step_is_detected_before_the_optimizer_steps(loss_fn, what, clip):
    result, unchanged, optimizer = one_step(loss_fn, max_norm=clip)
    assert result.nonfinite == what
    assert unchanged == (what is not None)
    assert len(optimizer.state) == (0 if what else 2)  # fused AdamW never saw the step


def test_inf_gradient_is_caught_before_clip_value_would_hide_it():
    def inf_gradient(out, target):  # finite loss (√0); d√z/dz at 0 is inf, times 1
        return F.mse_loss(out, target) + torch.sqrt(out - out.detach()).sum()

    result, unchanged, _ = one_step(inf_gradient, clip_value=0.1)  # clamping would turn ±inf into ±0.1
    assert result.nonfinite == "gradient" and unchanged


def test_under_fp16_a_non_finite_loss_is_optkits_and_the_scale_still_backs_off():
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    result, unchanged, _ = one_step(nan_loss, scaler=scaler)
    assert result.nonfinite == "loss" and unchanged
    assert scaler.get_scale() == 2.0**9
    assert result.loss.isnan()


# --- the loop's policy ----------------------------------------------------------------------


def test_stop_saves_the_weights_from_before_the_bad_update(tmp_path, capsys):
    with pytest.raises(NonFiniteError) as err:
        nan_run(tmp_path, "stop", nan_at=5)
    assert str(err.value) == ("non-finite loss at step 5 (epoch 0); last.pt holds the weights from before that "
                              "update (trainer.nonfinite=skip skips such steps)")
    stopped = last(tmp_path, "stop")
    assert stopped["progress"]["step"] == 5 and stopped["progress"]["nonfinite_steps"] == 1
    nan_run(tmp_path, "four_good_steps", nan_at=10**9, max_iters=4)
    assert_same_state(stopped, last(tmp_path, "four_good_steps"))  # step 5 changed nothing


def test_stop_names_a_non_finite_gradient(tmp_path):
    with pytest.raises(NonFiniteError, match="non-finite gradient at step 3 "):
        nan_run(tmp_path, "grad", nan_at=3, what="gradient")


def test_skip_counts_logs_and_goes_on(tmp_path, capsys):
    nan_run(tmp_path, "skip", "trainer.nonfinite=skip", nan_at=5)
    out = capsys.readouterr().out
    assert "non-finite loss at step 5 (epoch 0): update skipped (1 in a row; trainer.max_nonfinite=10)" in out
    final = last(tmp_path, "skip")
    assert final["progress"]["step"] == 10 and final["progress"]["nonfinite_steps"] == 1
    assert all(v.isfinite().all() for v in final["model"].values())
    records = [json.loads(line) for line in (tmp_path / "skip" / "metrics.jsonl").read_text().splitlines()]
    counts = [(r["step"], r["train/nonfinite_steps"]) for r in records if r["kind"] == "train"]
    assert counts == [(2, 0), (4, 0), (6, 1), (8, 1), (10, 1)]
    assert all(r["train/loss"] == r["train/loss"] for r in records if r["kind"] == "train")  # skipped loss left out


def test_resuming_a_stopped_run_continues_as_skip_would_have(tmp_path):
    """stop's last.pt is exactly the state of a `skip` run after the bad step: resumed (the
    model's NaN switched off, which resume_force lets through), it ends bitwise where the
    skip run ends."""
    with pytest.raises(NonFiniteError):
        nan_run(tmp_path, "stop", nan_at=5)
    nan_run(tmp_path, "stop", "trainer.resume=auto", "trainer.resume_force=true", nan_at=10**9)
    nan_run(tmp_path, "skip", "trainer.nonfinite=skip", nan_at=5)
    resumed, skipped = last(tmp_path, "stop"), last(tmp_path, "skip")
    assert resumed["progress"]["step"] == skipped["progress"]["step"] == 10
    assert_same_state(resumed, skipped)


def test_skip_stops_after_max_nonfinite_in_a_row(tmp_path):
    with pytest.raises(NonFiniteError) as err:
        nan_run(tmp_path, "streak", "trainer.nonfinite=skip", "trainer.max_nonfinite=4", nan_at=3, repeat=True)
    assert str(err.value).startswith("4 steps in a row had a non-finite loss or gradient (the last: loss at step 6 ")
    progress = last(tmp_path, "streak")["progress"]
    assert progress["step"] == 6 and progress["nonfinite_steps"] == 4 and progress["nonfinite_streak"] == 4


@pytest.mark.slow
def test_train_py_stops_with_one_line_and_exit_3(train_cli, tmp_path):
    out = train_cli([*COMMON, NAN_MODEL, "+model.nan_at=5", "trainer.max_iters=10", f"hydra.run.dir={tmp_path}"])
    assert out.returncode == 3, out.stderr
    assert out.stderr.strip().splitlines() == [
        "optkit: stopped: non-finite loss at step 5 (epoch 0); last.pt holds the weights from before that update "
        "(trainer.nonfinite=skip skips such steps)"]
    assert torch.load(tmp_path / "last.pt", weights_only=True)["progress"]["step"] == 5
