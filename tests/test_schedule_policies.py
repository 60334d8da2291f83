"""Every lr policy as a formula: the policies MMCV lacks against closed forms, every option
evaluated past the end of a run, and the refusals MMCV lacks (or only meets mid-run)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from optkit.errors import ConfigError
from optkit.schedule import (LR_POLICIES, MOMENTUM_POLICIES, WSD, CosineRestart, Cyclic, InverseSqrt, OneCycle,
                             Step, Timeline, Warmup, lr_curve)
from optkit.schedule.build import build_schedule
from optkit.schedule.curve import momentum_curve
from tests.conftest import compose_config

TIMELINE = Timeline(iters_per_epoch=10, max_iters=100)
BASES = [0.1, 0.02]


def curve(policy, warmup=Warmup(), timeline=TIMELINE):
    return lr_curve(policy, warmup, BASES, np.arange(timeline.max_iters), timeline)


@pytest.mark.parametrize("shape,decay", [
    ("linear", lambda f: 1 - f),
    ("cosine", lambda f: 0.5 * (1 + math.cos(math.pi * f))),
    ("sqrt", lambda f: 1 - math.sqrt(f)),
])
def test_wsd_is_flat_then_decays_over_the_last_fraction(shape, decay):
    got = curve(WSD(decay_fraction=0.25, decay_shape=shape, min_lr_ratio=0.1))
    for base, row in zip(BASES, got):
        target = 0.1 * base
        expected = [base if i < 75 else target + (base - target) * decay((i - 75) / 25) for i in range(100)]
        np.testing.assert_allclose(row, expected, rtol=1e-12)


def test_wsd_with_linear_warmup_is_the_trapezoid():
    got = curve(WSD(decay_fraction=0.2), Warmup("linear", 10, 0.01))[0]
    assert got[0] == pytest.approx(0.001) and got[9] < 0.1 and np.all(got[10:80] == 0.1) and got[-1] < 0.006


def test_inverse_sqrt_is_fairseq_after_the_timescale():
    got = curve(InverseSqrt(timescale=16), Warmup("linear", 16, 1e-3))
    for base, row in zip(BASES, got):
        np.testing.assert_allclose(row[16:], [base * math.sqrt(16 / i) for i in range(16, 100)], rtol=1e-12)
        np.testing.assert_allclose(row[:16], [base * (1e-3 + (1 - 1e-3) * i / 16) for i in range(16)], rtol=1e-12)


@pytest.mark.parametrize("option", sorted(LR_POLICIES))
def test_every_lr_option_evaluates_past_the_end_of_the_run(option):
    """The scheduler's last chunk and plot previews may evaluate steps past the run: finite values, no
    numpy warnings, the defaults of conf/schedule/<option>.yaml."""
    cfg = compose_config([f"schedule={option}", "warmup=linear", "warmup.iters=7"])
    timeline = Timeline(iters_per_epoch=10, max_iters=300)
    schedule = build_schedule(cfg, timeline)
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        values = schedule.lr(BASES, np.arange(2 * timeline.max_iters))
    assert np.all(np.isfinite(values)) and np.all(values[:, : timeline.max_iters] > 0)


@pytest.mark.parametrize("option", sorted(MOMENTUM_POLICIES))
def test_every_momentum_option_evaluates_past_the_end_of_the_run(option):
    policy = build_schedule(compose_config([f"momentum={option}"]), TIMELINE).momentum_policy
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        values = momentum_curve(policy, [0.9, 0.8], np.arange(3 * TIMELINE.max_iters), TIMELINE)
    assert np.all(np.isfinite(values)) and np.all(values[:, : TIMELINE.max_iters] >= 0)


@pytest.mark.parametrize("make,key", [
    (lambda: Step(step=[3, 2]), "step"),
    (lambda: Step(step=[2, 2]), "step"),
    (lambda: Step(step=0), "step"),
    (lambda: Step(step="5"), "step"),
    (lambda: WSD(decay_fraction=1.5), "decay_fraction"),
    (lambda: WSD(decay_shape="exp"), "decay_shape"),
    (lambda: InverseSqrt(timescale=0), "timescale"),
    (lambda: OneCycle(), "max_lr"),
    (lambda: OneCycle(max_lr=-0.1), "max_lr"),
    (lambda: OneCycle(max_lr=0.1, div_factor=0), "div_factor"),
    (lambda: CosineRestart(), "periods"),
    (lambda: Cyclic(target_ratio=[0, 1e-4]), "target_ratio"),
    (lambda: Cyclic(cyclic_times=0), "cyclic_times"),
])
def test_static_refusals_name_the_field(make, key):
    with pytest.raises(ConfigError) as err:
        make()
    assert err.value.key == key


@pytest.mark.parametrize("overrides,key", [
    (["schedule=cyclic", "schedule.cyclic_times=101"], "schedule.cyclic_times"),
    (["schedule=cosine_restart", "schedule.periods=[50]", "schedule.restart_weights=[1]",
      "schedule.by_epoch=false"], "schedule.periods"),
    (["schedule=onecycle", "schedule.total_steps=99"], "schedule.total_steps"),
    (["momentum=onecycle", "momentum.pct_start=0.01"], "momentum.pct_start"),
    (["momentum=cyclic", "momentum.cyclic_times=200"], "momentum.cyclic_times"),
])
def test_refusals_that_need_the_run_length_are_keyed_under_their_group(overrides, key):
    with pytest.raises(ConfigError) as err:
        build_schedule(compose_config(overrides), TIMELINE)
    assert err.value.key == key


def test_cosine_restart_periods_may_cover_more_than_the_run():
    build_schedule(compose_config(["schedule=cosine_restart", "schedule.periods=[5,6]",
                                   "schedule.restart_weights=[1,1]"]), TIMELINE)


def test_flat_cosine_rounds_half_to_even_like_mmcv():
    from optkit.schedule import FlatCosineAnnealing

    timeline = Timeline(iters_per_epoch=1, max_iters=21)  # round(21 · 0.5) = round(10.5) = 10
    got = curve(FlatCosineAnnealing(start_percent=0.5, by_epoch=False), timeline=timeline)[0]
    assert np.all(got[:10] == 0.1) and got[10] == 0.1 and got[11] < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("args,key", [
    (["schedule=step", "schedule.step=[20,10]"], "schedule.step"),
    (["schedule=cosine", "schedule.min_lr=0", "schedule.min_lr_ratio=0.01"], "schedule.min_lr"),
    (["schedule=cyclic", "schedule.step_ratio_up=1.0"], "schedule.step_ratio_up"),
    (["warmup=linear", "warmup.ratio=1.5"], "warmup.ratio"),
    (["momentum=cyclic", "momentum.by_epoch=true"], "momentum.by_epoch"),
    (["schedule=onecycle", "schedule.total_steps=10", "trainer.max_epochs=1"], "schedule.total_steps"),
])
def test_bad_schedule_exits_2_with_one_line(train_cli, tmp_path, args, key):
    out = train_cli([*args, f"hydra.run.dir={tmp_path}/run", "trainer.device=cpu"])
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"optkit: config error: {key}:"), out.stderr
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def doc_commands() -> list[list[str]]:
    """The `python train.py ...` lines of the ```bash blocks in docs/schedules.md."""
    from tests.conftest import REPO

    text = (REPO / "docs" / "schedules.md").read_text()
    blocks = [block.split("```", 1)[0] for block in text.split("```bash\n")[1:]]
    return [line.split()[2:] for block in blocks for line in block.splitlines() if line.startswith("python train.py")]


@pytest.mark.parametrize("overrides", doc_commands(), ids=lambda o: " ".join(o)[:60])
def test_documented_tutorial_commands_compose_and_build(overrides):
    from optkit.validate import check

    cfg = compose_config(overrides)
    check(cfg)
    build_schedule(cfg, Timeline(iters_per_epoch=1252, max_iters=200 * 1252))


def test_docs_show_the_tutorial_examples():
    assert len(doc_commands()) == 6
