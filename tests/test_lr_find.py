"""The lr range test: its pure parts by hand, then on digits with model=mlp (CPU): where the
suggestion lies on the recorded curve, nothing changed on disk or in memory, paramwise
ratios kept, early stop, host reads, AMP and accumulation, the command line."""
from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from optkit import distributed, lr_find
from optkit.errors import ConfigError
from optkit.grad import GradStep
from optkit.lr_find import RangeTest, SmoothedLoss, find_lr, lr_ramp, range_test, steepest_descent
from optkit.train import build_components, build_grad_step, run
from tests.conftest import REPO, compose_config

MLP = ["model=mlp", "trainer.device=cpu", "logging.tensorboard=false", "logging.progress=false"]
SGD = [*MLP, "optimizer=sgd", "optimizer.momentum=0.9"]


# --- the pure parts ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode,lo,hi,n", [("exp", 1e-7, 10.0, 100), ("exp", 1e-3, 1e-1, 5), ("linear", 0.01, 1.0, 100)])
def test_ramp_runs_from_min_to_max_evenly(mode, lo, hi, n):
    lrs = lr_ramp(lo, hi, n, mode)
    assert len(lrs) == n and lrs[0] == pytest.approx(lo) and lrs[-1] == pytest.approx(hi)
    steps = np.diff(np.log(lrs)) if mode == "exp" else np.diff(lrs)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)


def test_smoothing_is_the_bias_corrected_moving_average_by_hand():
    tracker = SmoothedLoss(beta=0.5, diverge=4.0)
    for loss in (2.0, 1.0, 4.0):
        assert not tracker.add(loss)
    # a = 1, 1, 2.5 ; s = a / (1 - 0.5^t) = 2, 4/3, 20/7
    np.testing.assert_allclose(tracker.values, [2.0, 4 / 3, 20 / 7])
    constant = SmoothedLoss(beta=0.98, diverge=4.0)
    assert not any(constant.add(2.3) for _ in range(50))
    np.testing.assert_allclose(constant.values, 2.3)  # bias correction: no ramp up from 0


@pytest.mark.parametrize("losses,diverge,stop", [
    ([1.0, 0.5, 1.9, 2.1], 4.0, 3),  # beta 0: 2.1 > 4 x 0.5
    ([1.0, 0.5, 2.0, 1.0], 4.0, None),  # 2.0 is not above 4 x 0.5
    ([3.0, 2.0, 1.0, 2.5], 2.0, 3),
    ([1.0, float("nan"), 0.5], 4.0, 1),
    ([1.0, float("inf")], 4.0, 1),
])
def test_stop_rule(losses, diverge, stop):
    tracker = SmoothedLoss(beta=0.0, diverge=diverge)
    stops = [tracker.add(x) for x in losses]
    assert (stops.index(True) if True in stops else None) == stop


def test_steepest_descent_is_searched_before_the_minimum():
    lrs = lr_ramp(1e-5, 1.0, 101, "exp")
    x = np.log10(lrs)
    smoothed = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1, 50 * (x + 1) ** 2, 0)  # falls fastest at 1e-3
    assert lrs[steepest_descent(lrs, smoothed)] == pytest.approx(1e-3)
    assert steepest_descent(lrs, np.linspace(1, 2, 101)) is None  # the loss only rose
    assert steepest_descent(lrs[:2], smoothed[:2]) is None  # too few steps to have a slope


@pytest.mark.parametrize("tool,key", [
    ({"num_iters": "1"}, "num_iters"), ({"num_iters": "ten"}, "num_iters"), ({"min_lr": "0"}, "min_lr"),
    ({"min_lr": "20"}, "min_lr"), ({"max_lr": "x"}, "max_lr"), ({"mode": "cubic"}, "mode"),
    ({"smooth": "1"}, "smooth"), ({"diverge": "1"}, "diverge"),
])
def test_bad_tool_arguments_name_the_argument(tool, key):
    with pytest.raises(ConfigError) as err:
        RangeTest.from_args(tool)
    assert err.value.key == key


# --- on digits --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sgd_result():
    return find_lr(compose_config(SGD), RangeTest(num_iters=100, min_lr=1e-5, max_lr=10.0))


def test_suggestion_lies_where_the_recorded_loss_falls(sgd_result):
    curve = sgd_result.curve
    s = curve.suggestion
    low = int(lr_find.SKIP_START * len(curve.lr))
    bottom = int(np.nanargmin(curve.smoothed))
    assert s is not None and low <= s < bottom
    assert curve.smoothed[s] < curve.smoothed[low] and curve.smoothed[s - 1] > curve.smoothed[s] > curve.smoothed[s + 1]
    assert np.mean(curve.loss[s - 5 : s + 5]) < 0.8 * np.mean(curve.loss[:10])  # the raw loss has fallen too
    assert curve.lr[s] < curve.min_loss_lr  # below the lr where the smoothed loss bottoms out
    assert curve.stopped_at is not None  # max_lr=10 with SGD diverges


def test_early_stop_at_the_first_step_past_diverge_times_the_minimum(sgd_result):
    curve, k = sgd_result.curve, sgd_result.settings.diverge
    stop = curve.stopped_at
    assert stop == len(curve.lr) - 1 < sgd_result.settings.num_iters - 1
    assert curve.smoothed[stop] > k * np.min(curve.smoothed[:stop]) or not np.isfinite(curve.smoothed[stop])
    assert all(curve.smoothed[i] <= k * np.min(curve.smoothed[:i]) for i in range(1, stop))


def test_the_curve_does_not_depend_on_the_read_interval(sgd_result):
    """Divergence is checked only at the reads, every logging.log_every steps; the steps run
    past it are dropped, so the curve is the one every-step checking records."""
    every_step = find_lr(compose_config([*SGD, "logging.log_every=1"]), sgd_result.settings).curve
    assert compose_config(SGD).logging.log_every > 1
    assert every_step.stopped_at == sgd_result.curve.stopped_at
    np.testing.assert_array_equal(every_step.loss, sgd_result.curve.loss)


def steps_seen(monkeypatch) -> list[tuple[list[float], int]]:
    """Each GradStep call: the groups' lr, and the window's micro-batch count."""
    seen = []
    original = GradStep.__call__

    def spy(self, window, batch, want_norm=False):
        seen.append(([g["lr"] for g in self.optimizer.param_groups], len(window.batches)))
        return original(self, window, batch, want_norm)

    monkeypatch.setattr(GradStep, "__call__", spy)
    return seen


def test_param_groups_keep_their_paramwise_ratios(monkeypatch):
    cfg = compose_config([*SGD, "paramwise.bias_lr_mult=2", "+paramwise.custom_keys={head:{lr_mult:10}}"])
    settings = RangeTest(num_iters=20, min_lr=1e-4, max_lr=1e-1)
    seen = steps_seen(monkeypatch)
    result = find_lr(cfg, settings)
    # MMCV: custom_keys win over bias_lr_mult, so head.bias gets 10, not 20
    assert sorted({ratio for _, ratio in result.groups}) == [1.0, 2.0, 10.0]
    assert len(seen) == 20
    for i, (group_lrs, _) in enumerate(seen):
        expected = [settings.lrs()[i] * ratio for _, ratio in result.groups]
        np.testing.assert_allclose(group_lrs, expected, rtol=1e-12)
    assert result.base_lr == cfg.optimizer.lr


def test_sam_sweeps_its_base_optimizers_lr(monkeypatch):
    """SAM keeps the lr in optimizer.base: the test scales it and suggests a value for it."""
    cfg = compose_config([*MLP, "optimizer=sam", "optimizer.base.lr=0.05"])
    settings = RangeTest(num_iters=6, min_lr=1e-4, max_lr=1e-1)
    seen = []
    sgd_step = torch.optim.SGD.step
    monkeypatch.setattr(torch.optim.SGD, "step", lambda self, *a, **k: (seen.append(self.param_groups[0]["lr"]),
                                                                         sgd_step(self, *a, **k))[1])
    result = find_lr(cfg, settings)
    assert result.lr_key == "optimizer.base.lr" and result.base_lr == 0.05
    np.testing.assert_allclose(seen, settings.lrs(), rtol=1e-12)
    assert lr_find.lr_key(compose_config(SGD)) == "optimizer.lr"


def test_one_lr_per_optimizer_step_with_accumulation_and_bf16(monkeypatch):
    seen = steps_seen(monkeypatch)
    for remainder in ("flush", "mmcv"):
        seen.clear()
        cfg = compose_config([*SGD, "grad.accumulate=3", f"grad.remainder={remainder}", "trainer.amp=bf16",
                              "data.batch_size=100"])  # 15 micro-batches an epoch: windows cross epochs with mmcv
        curve = find_lr(cfg, RangeTest(num_iters=12, min_lr=1e-4, max_lr=1e-1)).curve
        assert len(curve.lr) == len(seen) == 12 and np.isfinite(curve.loss).all()
        assert [n for _, n in seen] == [3] * 12
        np.testing.assert_allclose([lrs[0] for lrs, _ in seen], RangeTest(12, 1e-4, 1e-1).lrs())


def test_one_host_read_per_logging_interval(monkeypatch):
    cfg = compose_config([*SGD, "logging.log_every=7"])
    calls = {"tolist": 0, "item": 0}
    for name in calls:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    curve = find_lr(cfg, RangeTest(num_iters=30, min_lr=1e-4, max_lr=1e-2)).curve
    assert curve.stopped_at is None and len(curve.lr) == 30
    assert calls == {"tolist": math.ceil(30 / 7), "item": 0}


def state_of(model, optimizer):
    return copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "flags": [m.training for m in model.modules()], "rng": torch.get_rng_state()})


def assert_same_state(a, b):
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for key, state in a["optimizer"]["state"].items():
        for name, value in state.items():
            other = b["optimizer"]["state"][key][name]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other, name
    assert a["flags"] == b["flags"] and torch.equal(a["rng"], b["rng"])


@pytest.mark.parametrize("fail_at", [None, 3])
def test_model_optimizer_flags_and_rng_are_restored_in_memory(fail_at):
    """After a few real steps (momentum buffers, a scheduled lr and initial_lr) and with one
    module in eval mode: the test, finished or failing half-way, leaves all of it as it was."""
    cfg = compose_config([*SGD, "model.dropout=0.1"])
    built = build_components(cfg, distributed.DistInfo(), torch.device("cpu"))
    grad_step = build_grad_step(cfg, built.model, built.optimizer, built.scaler, built.autocast)
    windows = lr_find.training_windows(built.windows, built.data, 0, True, 0, 100)
    for _ in range(3):
        grad_step(next(windows), built.data.train_batch)
    for group in built.optimizer.param_groups:
        group["initial_lr"], group["lr"] = group["lr"], group["lr"] * 0.5
    built.model.body[2].eval()
    before = state_of(built.model, built.optimizer)
    assert before["optimizer"]["state"]  # momentum buffers exist

    class Failing:
        def __init__(self):
            self.optimizer, self.scaler, self.calls = grad_step.optimizer, None, 0

        def __call__(self, *args):
            self.calls += 1
            if self.calls == fail_at:
                raise RuntimeError("boom")
            return grad_step(*args)

    settings = RangeTest(num_iters=10, min_lr=1e-3, max_lr=1.0)
    if fail_at is None:
        curve = range_test(built.model, grad_step, windows, built.data.train_batch, settings, [1.0], 5)
        assert len(curve.lr) == 10
    else:
        with pytest.raises(RuntimeError):
            range_test(built.model, Failing(), windows, built.data.train_batch, settings, [1.0], 5)
    assert_same_state(before, state_of(built.model, built.optimizer))


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("trained")
    run(compose_config([*SGD, "optimizer.lr=0.05", "trainer.max_epochs=1", "trainer.resume=null"]), run_dir=run_dir)
    return run_dir


def digest(directory) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(directory)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_starts_from_the_checkpoint_and_leaves_the_files_alone(checkpoint_dir):
    before = digest(checkpoint_dir)
    assert "last.pt" in before
    settings = RangeTest(num_iters=30, min_lr=1e-6, max_lr=1e-3)
    resumed = find_lr(compose_config([*SGD, f"trainer.resume={checkpoint_dir / 'last.pt'}"]), settings)
    fresh = find_lr(compose_config(SGD), settings)
    assert digest(checkpoint_dir) == before
    assert resumed.start == str(checkpoint_dir / "last.pt") and fresh.start == "fresh init"
    assert resumed.curve.loss[0] < 0.5 * fresh.curve.loss[0]  # a trained model's loss, not init's ~2.3
    assert find_lr(compose_config([*SGD, f"trainer.resume={checkpoint_dir}"]), settings).curve.loss[0] == \
        resumed.curve.loss[0]  # a directory: its latest checkpoint


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("amp", [None, "fp16", "bf16"])
def test_cuda(amp):
    cfg = compose_config(["model=mlp", "optimizer=sgd", "optimizer.momentum=0.9", "trainer.device=cuda",
                          f"trainer.amp={amp or 'null'}", "grad.accumulate=2", "logging.tensorboard=false"])
    result = find_lr(cfg, RangeTest(num_iters=100, min_lr=1e-5, max_lr=10.0))
    assert result.device.startswith("cuda") and result.curve.suggestion is not None


# --- the command line ---------------------------------------------------------------------------


def test_main_writes_png_json_and_the_override_line(tmp_path, capsys):
    lr_find.main([*MLP, "num_iters=60", "min_lr=1e-5", "max_lr=1", f"out={tmp_path}/f.png", f"json={tmp_path}/f.json"])
    out = capsys.readouterr().out
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "f.json").read_text())
    match = re.search(r"^suggested lr: (\S+) \(override: optimizer\.lr=(\S+)\)$", out, re.M)
    assert match and match[1] == match[2]
    assert float(match[1]) == pytest.approx(data["suggestion"]["lr"], rel=5e-3)
    assert compose_config([f"optimizer.lr={match[1]}"]).optimizer.lr == float(match[1])
    assert len(data["lr"]) == len(data["loss"]) == len(data["smoothed_loss"]) <= 60
    assert data["lr"][data["suggestion"]["step"]] == data["suggestion"]["lr"]
    assert data["suggestion"]["min_loss_lr_div10"] == pytest.approx(data["suggestion"]["min_loss_lr"] / 10)
    assert (data["num_iters"], data["mode"], [g["lr_mult"] for g in data["groups"]]) == (60, "exp", [1.0])


@pytest.mark.slow
@pytest.mark.parametrize("args,key", [
    (["optimizer.lrr=0.1"], "optimizer.lrr"),
    (["optimizer=sgdd"], "optimizer"),
    (["mode=cubic"], "mode"),
    (["out=/no/such/dir/f.png"], "out"),
    (["trainer.resume=/no/such.pt"], "trainer.resume"),
])
def test_bad_arguments_exit_2_with_one_line(args, key, tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "lr_find.py"), *MLP, "num_iters=5", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"optkit: config error: {key}:")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_console_entry(tmp_path):
    entry = Path(sys.executable).parent / "optkit-lr-find"
    proc = subprocess.run([str(entry), *MLP, "num_iters=40", "max_lr=1", f"out={tmp_path}/f.png"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^suggested lr: \S+ \(override: optimizer\.lr=\S+\)$", proc.stdout, re.M)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
