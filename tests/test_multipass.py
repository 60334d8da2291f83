"""optkit.multipass: closure optimizers (LBFGS) step exactly as torch's LBFGS with a
hand-written closure, and SAM / ASAM equal a hand-written two-pass step (Foret et al. 2021,
davda54/sam's arithmetic) with clipping, accumulation, bf16 autocast and a GradScaler;
BatchNorm statistics move once per SAM step, and a SAM optimizer's state restores exactly."""
from __future__ import annotations

import copy
import functools
import shutil

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from optkit.grad import GradStep, Window
from optkit.multipass import ClosureStep, SAMStep, needs_closure, step_class
from optkit.optim import SAM
from optkit.train import run
from tests.conftest import compose_config

X, Y = torch.randn(12, 6, generator=torch.Generator().manual_seed(0)), torch.arange(12) % 3
FULL = Window((torch.arange(12),), (1.0,), 0)
HALVES = Window((torch.arange(6), torch.arange(6, 12)), (0.5, 0.5), 0)


def batch(index):
    return X[index], Y[index]


def net(norm: bool = False) -> nn.Module:
    torch.manual_seed(1)
    layers = [nn.Linear(6, 16), *([nn.BatchNorm1d(16)] if norm else []), nn.Tanh(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def assert_same(a: nn.Module, b: nn.Module, exact: bool = False) -> None:
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        if exact:
            assert torch.equal(p, q)
        else:
            torch.testing.assert_close(p, q)  # float32 rounding: rtol 1.3e-6, atol 1e-5


@pytest.mark.parametrize("optimizer,expected", [
    (torch.optim.LBFGS, ClosureStep), (torch.optim.SGD, GradStep), (torch.optim.AdamW, GradStep),
])
def test_the_step_kind_is_chosen_from_the_optimizer(optimizer, expected):
    model = net()
    assert needs_closure(optimizer) == (expected is ClosureStep)
    assert step_class(optimizer(model.parameters(), lr=0.1)) is expected
    assert step_class(SAM(model.parameters(), base=functools.partial(optimizer, lr=0.1))) is SAMStep


# --- LBFGS -------------------------------------------------------------------------------

LBFGS_CASES = [dict(), dict(line_search_fn="strong_wolfe"), dict(max_iter=5, history_size=3)]


@pytest.mark.parametrize("clip", [None, 0.5])
@pytest.mark.parametrize("kwargs", LBFGS_CASES)
def test_lbfgs_steps_as_torch_with_a_hand_written_closure(kwargs, clip):
    ours, ref = net(), net()
    step = ClosureStep(ours, torch.optim.LBFGS(ours.parameters(), lr=0.5, **kwargs), F.cross_entropy, max_norm=clip)
    optimizer = torch.optim.LBFGS(ref.parameters(), lr=0.5, **kwargs)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(ref(X), Y)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(ref.parameters(), clip)
        return loss

    for _ in range(3):
        result = step(FULL, batch, want_norm=True)
        expected = optimizer.step(closure)
        assert result.nonfinite is None and torch.equal(result.loss, expected.detach())
    assert_same(ours, ref, exact=True)
    assert optimizer.state_dict()["state"][0]["func_evals"] == step.optimizer.state_dict()["state"][0]["func_evals"] > 3


def test_lbfgs_with_a_non_finite_start_moves_nothing():
    model = net()
    before = copy.deepcopy(model.state_dict())
    step = ClosureStep(model, torch.optim.LBFGS(model.parameters()), lambda out, y: F.cross_entropy(out, y) * torch.inf)
    result = step(FULL, batch)
    assert result.nonfinite == "loss"
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in model.parameters())


# --- SAM -----------------------------------------------------------------------------------


def sam_by_hand(model: nn.Module, optimizer: torch.optim.Optimizer, window: Window, rho: float, adaptive: bool,
                clip, autocast=torch.autocast("cpu", enabled=False)) -> torch.Tensor:
    """One SAM step written out: g at w, e = ρ T²g/(‖Tg‖+1e-12), g' at w+e, w back, clip, step."""
    def grads():
        total = 0
        for index, weight in zip(window.batches, window.weights):
            with copy.copy(autocast):
                loss = F.cross_entropy(model(X[index]), Y[index]) * weight
            loss.backward()
            total = total + loss.detach()
        return total

    loss = grads()
    params = [p for p in model.parameters() if p.grad is not None]
    with torch.no_grad():
        t = [p.abs() if adaptive else torch.ones_like(p) for p in params]
        norm = torch.sqrt(sum(((ti * p.grad) ** 2).sum() for ti, p in zip(t, params)))
        e = [rho * ti ** 2 * p.grad / (norm + 1e-12) for ti, p in zip(t, params)]
        w = [p.clone() for p in params]
        for p, ei in zip(params, e):
            p.add_(ei)
    optimizer.zero_grad()
    grads()
    with torch.no_grad():
        for p, wi in zip(params, w):
            p.copy_(wi)
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    optimizer.zero_grad()
    return loss


BASES = {"sgd_momentum": functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9),
         "adamw_fused": functools.partial(torch.optim.AdamW, lr=0.01, fused=True)}
SAM_CASES = [(base, adaptive, clip, window) for base in BASES for adaptive in (False, True)
             for clip, window in ((None, "full"), (0.05, "full"), (None, "halves"), (0.05, "halves"))]


@pytest.mark.parametrize("base,adaptive,clip,window", SAM_CASES)
def test_sam_equals_a_hand_written_two_pass_step(base, adaptive, clip, window):
    rho = 0.5 if adaptive else 0.05  # ASAM's radius is relative to |w|
    ours, ref = net(), net()
    step = SAMStep(ours, SAM(ours.parameters(), base=BASES[base], rho=rho, adaptive=adaptive), F.cross_entropy,
                   max_norm=clip)
    optimizer = BASES[base](ref.parameters())
    for _ in range(3):
        result = step({"full": FULL, "halves": HALVES}[window], batch)
        expected = sam_by_hand(ref, optimizer, {"full": FULL, "halves": HALVES}[window], rho, adaptive, clip)
        assert result.nonfinite is None
        torch.testing.assert_close(result.loss, expected, rtol=1e-6, atol=0)
    assert_same(ours, ref)
    assert not all(torch.equal(p, q) for p, q in zip(net().parameters(), ours.parameters()))


def test_sam_moves_differently_from_its_base():
    plain, sam = net(), net()
    GradStep(plain, BASES["sgd_momentum"](plain.parameters()), F.cross_entropy)(FULL, batch)
    SAMStep(sam, SAM(sam.parameters(), base=BASES["sgd_momentum"], rho=0.05), F.cross_entropy)(FULL, batch)
    difference = max((p - q).abs().max().item() for p, q in zip(plain.parameters(), sam.parameters()))
    assert difference > 1e-5


def test_sam_accumulated_equals_sam_on_the_big_batch():
    small, big = net(), net()
    SAMStep(small, SAM(small.parameters(), base=BASES["sgd_momentum"]), F.cross_entropy)(HALVES, batch)
    SAMStep(big, SAM(big.parameters(), base=BASES["sgd_momentum"]), F.cross_entropy)(FULL, batch)
    assert_same(small, big)


def test_sam_under_bf16_autocast_equals_the_hand_written_step():
    ours, ref = net(), net()
    autocast = functools.partial(torch.autocast, "cpu", dtype=torch.bfloat16)
    step = SAMStep(ours, SAM(ours.parameters(), base=BASES["sgd_momentum"]), F.cross_entropy, autocast=autocast)
    optimizer = BASES["sgd_momentum"](ref.parameters())
    for _ in range(2):
        step(HALVES, batch)
        sam_by_hand(ref, optimizer, HALVES, 0.05, False, None, autocast=torch.autocast("cpu", dtype=torch.bfloat16))
    assert_same(ours, ref, exact=True)


def test_sam_with_a_grad_scaler_equals_sam_without_one():
    """The perturbation is scale-invariant, the second gradient is unscaled before clipping
    and stepping: a loss scale changes nothing but rounding."""
    scaled, plain = net(), net()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)
    SAMStep(scaled, SAM(scaled.parameters(), base=BASES["adamw_fused"]), F.cross_entropy, max_norm=0.05,
            scaler=scaler)(HALVES, batch)
    SAMStep(plain, SAM(plain.parameters(), base=BASES["adamw_fused"]), F.cross_entropy, max_norm=0.05)(HALVES, batch)
    assert_same(scaled, plain)
    assert scaler.get_scale() == 2.0 ** 12


def test_sam_overflow_under_a_grad_scaler_is_a_skipped_step_with_weights_restored():
    model = net()
    before = copy.deepcopy(model.state_dict())
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 40)  # × a loss of 1e30: the scaled gradient overflows
    step = SAMStep(model, SAM(model.parameters(), base=BASES["sgd_momentum"]),
                   lambda out, y: F.cross_entropy(out, y) * 1e30, scaler=scaler)
    result = step(FULL, batch)
    assert result.nonfinite is None and step.amp_values()["train/skipped_steps"] == 1
    assert scaler.get_scale() == 2.0 ** 39
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_sam_with_a_non_finite_gradient_applies_nothing():
    model = net()
    before = copy.deepcopy(model.state_dict())
    step = SAMStep(model, SAM(model.parameters(), base=BASES["sgd_momentum"]),
                   lambda out, y: F.cross_entropy(out * torch.inf, y))
    assert step(FULL, batch).nonfinite == "loss"
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_sam_updates_batchnorm_statistics_once_per_step():
    model, ref = net(norm=True), net(norm=True)
    SAMStep(model, SAM(model.parameters(), base=BASES["sgd_momentum"]), F.cross_entropy)(FULL, batch)
    ref(X)  # the first pass alone
    bn, bn_ref = model[1], ref[1]
    assert torch.equal(bn.running_mean, bn_ref.running_mean) and torch.equal(bn.running_var, bn_ref.running_var)
    assert bn.num_batches_tracked.item() == 1


def sam_steps(model, optimizer, n, seed):
    gen = torch.Generator().manual_seed(seed)
    step = SAMStep(model, optimizer, F.cross_entropy)
    for _ in range(n):
        order = torch.randperm(12, generator=gen)
        step(Window((order[:6], order[6:]), (0.5, 0.5), 0), batch)


@pytest.mark.parametrize("base", BASES)
def test_sam_resumes_exactly_from_its_state_dict(base):
    model = net()
    optimizer = SAM(model.parameters(), base=BASES[base], adaptive=True)
    sam_steps(model, optimizer, 2, seed=1)
    for group in optimizer.param_groups:  # what the scheduler does
        group["lr"] *= 0.5
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())  # as on disk
    assert saved_opt["state"]  # the base optimizer's momentum / moments
    sam_steps(model, optimizer, 2, seed=2)
    resumed = net()
    resumed.load_state_dict(saved_model)
    again = SAM(resumed.parameters(), base=BASES[base], adaptive=True)
    again.load_state_dict(saved_opt)
    assert all(a is b for a, b in zip(again.base.param_groups, again.param_groups)) and again.base.state is again.state
    sam_steps(resumed, again, 2, seed=2)
    assert_same(model, resumed, exact=True)


# --- through the training loop: resumed runs end bitwise where uninterrupted ones end ---------

RESUMED = {
    "lbfgs": ["model=mlp", "optimizer=lbfgs", "optimizer.max_iter=4"],
    "sam": ["optimizer=sam", "optimizer@optimizer.base=adamw", "optimizer.adaptive=true", "optimizer.rho=0.5",
            "grad=clip", "grad.accumulate=2", "model=cnn"],
    "muon": ["optimizer=muon", "model=cnn"],
}


@pytest.mark.parametrize("case", RESUMED)
def test_resumed_from_a_mid_run_checkpoint_ends_bitwise(case, tmp_path):
    """Run 4 steps with a checkpoint after each; start again from the step-3 checkpoint (prev.pt
    of the finished run) in a new directory: the last step and the saved state are the same."""
    overrides = [*RESUMED[case], "trainer.max_iters=4", "trainer.ckpt_every=1",
                 "trainer.ckpt_by_epoch=false", "schedule=fixed", "logging.tensorboard=false", "logging.progress=false"]
    run(compose_config(overrides), run_dir=tmp_path / "full")
    (tmp_path / "cut").mkdir()
    shutil.copy(tmp_path / "full" / "prev.pt", tmp_path / "cut" / "last.pt")
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["progress"]["step"] == 3
    run(compose_config(overrides), run_dir=tmp_path / "cut")
    full, cut = (torch.load(tmp_path / d / "last.pt", weights_only=True) for d in ("full", "cut"))
    assert cut["progress"]["step"] == 4
    assert all(torch.equal(full["model"][k], cut["model"][k]) for k in full["model"])
    flat_full, flat_cut = (torch.utils._pytree.tree_leaves(c["optimizer"]["state"]) for c in (full, cut))
    assert flat_full and len(flat_full) == len(flat_cut)
    assert all(torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b for a, b in zip(flat_full, flat_cut))
