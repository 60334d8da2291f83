"""Model EMA (`ema=ema`, `ema=mmcv`): against MMCV 1.7.2's EMAHook (tests/fixtures, from
scripts/mmcv_reference/ema_hook.py) and timm ModelEmaV3's formulas on the same recorded
weight sequence, then through the training loop (every update, validation, resume)."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from optkit import checkpoint, distributed
from optkit.averaging import Ema, MmcvEma
from optkit.averaging.model_ema import ModelEma
from optkit.loop import evaluate
from optkit.train import build_components, run
from tests.conftest import compose_config

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mmcv_ema_hook.json").read_text())
WEIGHTS = [{k: torch.tensor(v, dtype=torch.float64) for k, v in step.items()} for step in FIXTURE["weights"]]


def fixture_model() -> nn.Module:
    """The reference script's model (its initial weights come from the fixture)."""
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def set_state(model: nn.Module, values: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        state = model.state_dict()
        for name, value in values.items():
            state[name].copy_(value)


@pytest.mark.parametrize("case", sorted(FIXTURE["cases"]))
def test_mmcv_ema_hook_on_a_recorded_weight_sequence(case):
    ref = FIXTURE["cases"][case]
    model = fixture_model()
    set_state(model, {k: torch.tensor(v, dtype=torch.float64) for k, v in ref["initial"].items()})
    ema = ModelEma(model, MmcvEma(momentum=ref["momentum"], interval=ref["interval"], warm_up=ref["warm_up"]))
    for t, (weights, expected) in enumerate(zip(WEIGHTS, ref["ema"]), start=1):
        set_state(model, weights)
        ema.update(t)
        for name, param in ema.module.named_parameters():
            torch.testing.assert_close(param, torch.tensor(expected[name], dtype=torch.float64), rtol=1e-12,
                                       atol=1e-14, msg=f"{case} step {t} {name}")
    ema.sync_buffers()  # MMCV evaluates the EMA parameters with the live model's buffers
    for name, buffer in ema.module.named_buffers():
        assert torch.equal(buffer, model.state_dict()[name]), name


def timm_get_decay(step: int, decay: float, update_after_step: int, use_warmup: bool, warmup_gamma: float,
                   warmup_power: float, min_decay: float) -> float:
    """timm ModelEmaV3.get_decay, as written there."""
    step = max(0, step - update_after_step - 1)
    if step <= 0:
        return 0.0
    if use_warmup:
        value = 1 - (1 + step / warmup_gamma) ** -warmup_power
        return max(min(value, decay), min_decay)
    return decay


TIMM = [  # Ema(...) settings
    {"decay": 0.9},
    {"decay": 0.99, "warmup": True},
    {"decay": 0.999, "warmup": True, "warmup_gamma": 2.0, "warmup_power": 0.75, "min_decay": 0.3},
    {"decay": 0.8, "start_step": 4},
    {"decay": 0.7, "update_every": 3, "buffers": "copy"},
    {"decay": 0.95, "warmup": True, "update_every": 2, "start_step": 2},
]


@pytest.mark.parametrize("settings", TIMM, ids=[str(s) for s in TIMM])
def test_timm_model_ema_v3_formulas_on_a_recorded_weight_sequence(settings):
    """timm: `ema.update(model, step=num_updates)` after every optimizer step, here every
    `update_every` steps; lerp of every float parameter and (unless exclude_buffers) buffer."""
    policy = Ema(**settings)
    model = fixture_model()
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    ema = ModelEma(model, policy)
    params = {name for name, _ in model.named_parameters()}
    for t, weights in enumerate(WEIGHTS, start=1):
        set_state(model, weights)
        ema.update(t)
        if t % policy.update_every == 0:
            d = timm_get_decay(t, policy.decay, policy.start_step, policy.warmup, policy.warmup_gamma,
                               policy.warmup_power, policy.min_decay)
            for name, value in model.state_dict().items():
                averaged = value.is_floating_point() and (name in params or policy.buffers == "average")
                expected[name] = expected[name] * d + value * (1 - d) if averaged else value.clone()
        for name, value in ema.module.state_dict().items():
            torch.testing.assert_close(value, expected[name], rtol=1e-12, atol=1e-14, msg=f"step {t} {name}")


@pytest.mark.parametrize("buffers,averaged", [("average", 8), ("copy", 6)])
def test_an_update_is_one_foreach_lerp_over_every_averaged_tensor(buffers, averaged):
    """6 parameters, and BatchNorm's running mean and var when buffers are averaged."""
    model = fixture_model()
    ema = ModelEma(model, Ema(decay=0.5, buffers=buffers))
    assert len(ema.averaged[0]) == averaged
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        ema.update(5)
    calls = {e.key: e.count for e in prof.key_averages()}
    assert calls["aten::_foreach_lerp_"] == 1
    assert calls.get("aten::lerp_", 0) in (0, averaged)  # CPU: torch's foreach runs one lerp_ per tensor inside


# --- through the loop: a run extended one step at a time, resuming each time -----------------

RUN = ["model=cnn", "optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "schedule=fixed",
       "trainer.device=cpu", "trainer.deterministic=true", "logging.tensorboard=false", "logging.progress=false",
       "ema=ema", "ema.decay=0.8", "ema.warmup=true", "ema.update_every=2"]


@pytest.fixture(scope="module")
def extended_run(tmp_path_factory):
    """Checkpoints after 1, 2, ..., 5 steps of one run (each run resumes the previous one's
    last.pt with one step more: fixed lr, so the longer run is the same run)."""
    run_dir = tmp_path_factory.mktemp("ema")
    states = []
    for steps in range(1, 6):
        run(compose_config([*RUN, f"trainer.max_iters={steps}"]), run_dir=run_dir)
        states.append(checkpoint.load(run_dir / "last.pt"))
    return run_dir, states


def test_every_step_updates_the_ema_of_the_trained_weights(extended_run):
    """ema_t = lerp(ema_{t-1}, θ_t, 1 − decay(t)) on steps 2 and 4; steps 1, 3, 5 leave it.
    Step 1 would copy the weights (timm's decay 0 at the first update) but is not an update step."""
    _, states = extended_run
    policy = Ema(decay=0.8, warmup=True, update_every=2)
    for t in range(2, 6):
        before, now = states[t - 2]["ema"], states[t - 1]
        for name, value in now["ema"].items():
            raw = now["model"][name]
            if name.endswith("num_batches_tracked"):
                assert torch.equal(value, raw), name
            elif t % 2:
                assert torch.equal(value, before[name]), (t, name)
            else:
                expected = torch.lerp(before[name], raw, policy.weight(t))
                assert torch.equal(value, expected), (t, name)
    assert not torch.equal(states[-1]["ema"]["head.weight"], states[-1]["model"]["head.weight"])


def test_validation_reports_the_ema_as_val_and_the_model_as_val_raw(extended_run):
    run_dir, states = extended_run
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r["kind"] == "val"][-1]
    built = build_components(compose_config([*RUN, "trainer.max_iters=5"]), distributed.detect(), torch.device("cpu"))
    for key, weights in (("val", states[-1]["ema"]), ("val_raw", states[-1]["model"])):
        built.model.load_state_dict(weights)
        metrics = evaluate(built.model, built.data, 512, contextlib.nullcontext)
        assert metrics["val/acc"] == last[f"{key}/acc"] and metrics["val/loss"] == last[f"{key}/loss"], key
    assert last["val/loss"] != last["val_raw/loss"]
