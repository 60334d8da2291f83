"""SWA (`swa=swa`) against torch's own recipe written out with torch.optim.swa_utils: the
schedule until `start_epoch`, SWALR from there, `update_parameters` after every epoch from
`start_epoch` on, `update_bn` over an epoch of training batches at the end, and the averaged
weights as the final model."""
from __future__ import annotations

import contextlib
import json

import pytest
import torch
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn

from optkit import checkpoint, distributed
from optkit.data import epoch_order
from optkit.loop import evaluate
from optkit.schedule import Scheduler
from optkit.train import build_components, build_grad_step, run
from tests.conftest import compose_config

EPOCHS, START = 4, 2
ARGS = ["model=cnn", "model.channels=[8,16]", "optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "schedule=step",
        "schedule.step=[1]", "data.batch_size=256", f"trainer.max_epochs={EPOCHS}", "trainer.device=cpu",
        "trainer.deterministic=true", "logging.tensorboard=false", "logging.progress=false", "logging.log_every=1",
        "swa=swa", f"swa.start_epoch={START}", "swa.lr=0.02", "swa.anneal_epochs=2", "swa.anneal_strategy=linear"]


def torch_recipe(cfg) -> tuple[dict, list[float]]:
    """torch's SWA example over optkit's data, model, optimizer step and schedule."""
    built = build_components(cfg, distributed.detect(), torch.device("cpu"))
    model, optimizer = built.model, built.optimizer
    step = build_grad_step(cfg, model, optimizer, built.scaler, built.autocast)
    scheduler = Scheduler(optimizer, built.schedule)
    swa_model, swa_scheduler, lrs = AveragedModel(model), None, []

    def order(epoch: int) -> torch.Tensor:
        return epoch_order(len(built.data.train), epoch, cfg.trainer.seed, cfg.data.shuffle)

    for epoch in range(EPOCHS):
        model.train()
        if epoch == START:
            swa_scheduler = SWALR(optimizer, swa_lr=0.02, anneal_epochs=2, anneal_strategy="linear")
        for window in built.windows.epoch(epoch, order):
            if epoch < START:
                scheduler.apply(window.schedule_step)
            lrs.append(optimizer.param_groups[0]["lr"])
            step(window, built.data.train_batch)
        if epoch >= START:
            swa_model.update_parameters(model)
            swa_scheduler.step()
    update_bn((built.data.train_batch(i)[0] for w in built.windows.epoch(0, order) for i in w.batches), swa_model)
    return swa_model.module.state_dict(), lrs


@pytest.fixture(scope="module")
def swa_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("swa")
    run(compose_config(ARGS), run_dir=run_dir)
    return run_dir


def test_swa_run_equals_torchs_recipe(swa_run):
    expected, lrs = torch_recipe(compose_config(ARGS))
    final = checkpoint.load(swa_run / "last.pt")
    for name, value in expected.items():
        assert torch.equal(final["model"][name], value), name
    records = [json.loads(line) for line in (swa_run / "metrics.jsonl").read_text().splitlines()]
    logged = [r["train/lr/default"] for r in records if r["kind"] == "train"]
    assert logged == lrs
    steps = len(lrs) // EPOCHS
    assert lrs[steps:3 * steps] == [pytest.approx(0.01)] * 2 * steps  # epoch 1's step lr, held through epoch 2
    assert lrs[3 * steps:] == [pytest.approx(0.015)] * steps  # SWALR after one epoch: half-way to 0.02 (linear, 2)
    assert final["swa"]["averaged"]["n_averaged"] == EPOCHS - START


def test_the_final_validation_is_the_average_and_the_raw_model_is_val_raw(swa_run):
    records = [json.loads(line) for line in (swa_run / "metrics.jsonl").read_text().splitlines()]
    vals = [r for r in records if r["kind"] == "val"]
    assert len(vals) == EPOCHS and all("val_raw/acc" not in r for r in vals[:-1])
    built = build_components(compose_config(ARGS), distributed.detect(), torch.device("cpu"))
    built.model.load_state_dict(checkpoint.load(swa_run / "last.pt")["model"])
    metrics = evaluate(built.model, built.data, 512, contextlib.nullcontext)
    assert metrics == {key: vals[-1][key] for key in ("val/loss", "val/acc", "val/acc5")}
    assert vals[-1]["val/loss"] != vals[-1]["val_raw/loss"]
