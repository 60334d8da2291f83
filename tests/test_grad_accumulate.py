"""Accumulation: k micro-batches of b train exactly like one batch of k·b (flush rule), the
window plan follows each rule's definition, and a resumed run ends where an uninterrupted
one ends in both modes."""
from __future__ import annotations

import pytest
import torch

from optkit import checkpoint
from optkit.data import batch_slices
from optkit.grad import WindowPlan
from optkit.train import run
from tests.conftest import compose_config

QUIET = ["logging.tensorboard=false", "logging.progress=false", "trainer.resume=null"]
RECIPES = {
    "sgd": ["optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "optimizer.weight_decay=5e-4"],
    "adamw": ["optimizer=adamw", "optimizer.lr=0.003", "optimizer.weight_decay=0.05"],
}
SCHEDULE = ["schedule=cosine", "schedule.min_lr_ratio=0.01", "warmup=linear", "warmup.iters=5"]


def final_weights(tmp_path, name: str, overrides: list[str]) -> dict[str, torch.Tensor]:
    run(compose_config(["model=mlp", *SCHEDULE, *QUIET, *overrides]), run_dir=tmp_path / name)
    state = torch.load(tmp_path / name / checkpoint.LAST, weights_only=True)
    return state["model"]


# digits: 1438 training samples = 22·64 + 30, so every epoch ends with a short batch (30
# samples = micro-batches of 16 and 14); synthetic with 1024 samples divides evenly.
DATA = {"digits_short_last": ["data=digits"], "synthetic_even": ["data=synthetic", "data.num_train=1024"]}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
@pytest.mark.parametrize("data", sorted(DATA))
def test_k_micro_batches_of_b_equal_one_batch_of_kb(tmp_path, recipe, data):
    common = [*RECIPES[recipe], *DATA[data], "trainer.max_epochs=4"]
    small = final_weights(tmp_path, "small", [*common, "data.batch_size=16", "grad.accumulate=4"])
    big = final_weights(tmp_path, "big", [*common, "data.batch_size=64", "grad.accumulate=1"])
    for key in big:
        torch.testing.assert_close(small[key], big[key], rtol=0, atol=1e-6, msg=key)
    shorter = final_weights(tmp_path, "shorter", [*common, "data.batch_size=64", "trainer.max_epochs=3"])
    assert max((big[k] - shorter[k]).abs().max() for k in big) > 1e-3  # 1e-6 is far below one epoch's change


def test_tutorial_64_times_4_is_256(tmp_path):
    """docs/grad.md: `data.batch_size=64 grad.accumulate=4` ≡ `data.batch_size=256`."""
    common = [*RECIPES["sgd"], "trainer.max_epochs=3"]
    small = final_weights(tmp_path, "small", [*common, "data.batch_size=64", "grad.accumulate=4"])
    big = final_weights(tmp_path, "big", [*common, "data.batch_size=256"])
    for key in big:
        torch.testing.assert_close(small[key], big[key], rtol=0, atol=1e-6, msg=key)


def test_windows_see_the_big_batches_samples_in_order():
    order = torch.randperm(1438, generator=torch.Generator().manual_seed(3))
    small = WindowPlan(tuple(batch_slices(1438, 16, False)), 4, "flush", max_iters=23).epoch(0, lambda e: order)
    big = WindowPlan(tuple(batch_slices(1438, 64, False)), 1, "flush", max_iters=23).epoch(0, lambda e: order)
    assert len(small) == len(big) == 23
    for window, batch in zip(small, big):
        assert torch.equal(torch.cat(window.batches), batch.batches[0])
        assert sum(window.weights) == pytest.approx(1.0)
    assert [len(b) for b in small[-1].batches] == [16, 14]
    assert small[-1].weights == (16 / 30, 14 / 30)
    assert [w.schedule_step for w in small] == list(range(23))


def mmcv_windows_by_definition(n: int, k: int, max_iters: int) -> dict[int, list[tuple[list[int], int]]]:
    """MMCV's GradientCumulativeOptimizerHook, iteration by iteration: the optimizer steps
    after micro-batch g when (g + 1) % k == 0 or g is the last; the loss is divided by k, or
    by max_iters % k for the run's final remainder micro-batches. Keyed by the epoch of the
    stepping micro-batch: [(micro-batches, divisor)]."""
    remainder = max_iters % k
    out: dict[int, list[tuple[list[int], int]]] = {}
    pending: list[int] = []
    for g in range(max_iters):
        pending.append(g)
        if (g + 1) % k == 0 or g + 1 == max_iters:
            divisor = k if g < max_iters - remainder else remainder
            out.setdefault(g // n, []).append((pending, divisor))
            pending = []
    return out


@pytest.mark.parametrize("n,k,epochs,extra", [
    (3, 2, 3, 0), (3, 4, 3, 0), (3, 5, 3, 0), (7, 3, 4, 0), (1, 4, 9, 0), (5, 1, 2, 0), (4, 8, 5, 0),
    (7, 3, 4, -5), (3, 4, 3, -1), (6, 4, 3, -2),  # max_iters ending inside an epoch
])
def test_mmcv_windows_follow_mmcvs_rule(n, k, epochs, extra):
    max_iters = epochs * n + extra
    plan = WindowPlan(tuple(slice(i, i + 1) for i in range(n)), k, "mmcv", max_iters)
    expected = mmcv_windows_by_definition(n, k, max_iters)
    steps = 0
    for epoch in range(-(-max_iters // n)):
        windows = plan.epoch(epoch, lambda e: torch.arange(n) + 100 * e)  # sample id = 100·epoch + position
        got = [([int(b) // 100 * n + int(b) % 100 for b in w.batches], w) for w in windows]
        want = expected.get(epoch, [])
        assert [g for g, _ in got] == [g for g, _ in want]
        for (g, window), (_, divisor) in zip(got, want):
            assert window.weights == (1 / divisor,) * len(g)
            assert window.schedule_step == g[-1]
        steps += len(windows)
    assert steps == plan.max_steps == -(-max_iters // k)


def test_flush_windows_stay_inside_the_epoch():
    plan = WindowPlan(tuple(batch_slices(10, 2, False)), 3, "flush", max_iters=6)
    windows = plan.epoch(1, lambda e: torch.arange(10) + 10 * e)
    assert [torch.cat(w.batches).tolist() for w in windows] == [list(range(10, 16)), list(range(16, 20))]
    assert [w.schedule_step for w in windows] == [2, 3]
    assert windows[1].weights == (0.5, 0.5)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("remainder", ["flush", "mmcv"])
def test_resume_mid_epoch_is_exact(tmp_path, monkeypatch, remainder):
    """Interrupted right after a step checkpoint inside an epoch (with mmcv, a window that
    started in the previous epoch is pending at the epoch boundary), then resumed."""
    args = ["model=mlp", "model.dropout=0.1", *RECIPES["sgd"], *SCHEDULE, *QUIET[:2], "data.batch_size=64",
            "grad.accumulate=3", f"grad.remainder={remainder}", "trainer.max_epochs=3", "trainer.ckpt_by_epoch=false",
            "trainer.ckpt_every=11", "trainer.deterministic=true"]
    cfg = compose_config(args)
    run(cfg, run_dir=tmp_path / "full")
    save_last = checkpoint.save_last

    def save_then_stop(state, run_dir):
        save_last(state, run_dir)
        if state["progress"]["step"] == 11:
            raise Interrupt

    monkeypatch.setattr(checkpoint, "save_last", save_then_stop)
    with pytest.raises(Interrupt):
        run(cfg, run_dir=tmp_path / "cut")
    monkeypatch.setattr(checkpoint, "save_last", save_last)
    assert torch.load(tmp_path / "cut" / checkpoint.LAST, weights_only=True)["progress"]["epoch_step"] > 0
    run(cfg, run_dir=tmp_path / "cut")
    a = torch.load(tmp_path / "full" / checkpoint.LAST, weights_only=True)
    b = torch.load(tmp_path / "cut" / checkpoint.LAST, weights_only=True)
    assert a["progress"]["step"] == b["progress"]["step"] == (23 if remainder == "mmcv" else 24)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
