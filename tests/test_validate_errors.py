"""Every kind of bad command line is one `ConfigError` naming the key, before any work.

The whole table goes through `optkit.cli.check_command_line`, the check `train.py` runs
before Hydra starts (in-process: fast); a representative subset goes through `train.py`
itself and must exit 2 with exactly one stderr line, no traceback, and no run or sweep
directory created. Legal but suspicious settings warn in one line and run.
"""
from __future__ import annotations

import pytest
import torch

from optkit.cli import check_command_line
from optkit.errors import ConfigError

VIT_TYPO = "+paramwise.custom_keys={backbone.cls_tokn:{decay_mult:0}}"

# (command line, the key the error names)
BAD = [
    # a typo in a group option
    (["schedule=cosin"], "schedule"),
    (["optimizer=adamww"], "optimizer"),
    (["warmup=linaer"], "warmup"),
    (["momentum=cosinee"], "momentum"),
    (["model=resnt"], "model"),
    (["data=cifar"], "data"),
    (["paramwise=no_norm"], "paramwise"),
    (["grad=clipp"], "grad"),
    # a typo in a key
    (["optimizer.lrr=0.1"], "optimizer.lrr"),
    (["trainer.max_epoch=3"], "trainer.max_epoch"),
    (["schedule.min_lrr=0"], "schedule.min_lrr"),
    (["grad=clip", "grad.clip.max_nrm=1"], "grad.clip.max_nrm"),
    (["warmup=linear", "warmup.iter=5"], "warmup.iter"),
    (["optimizer=sgd", "+optimizer.momentun=0.9"], "optimizer.momentun"),
    (["logging.log_evry=5"], "logging.log_evry"),
    # a value of the wrong type
    (["trainer.max_epochs=abc"], "trainer.max_epochs"),
    (["schedule.by_epoch=maybe"], "schedule.by_epoch"),
    (["warmup.ratio=x"], "warmup.ratio"),
    (["optimizer.lr=fast"], "optimizer.lr"),
    (["grad.accumulate=1.5"], "grad.accumulate"),
    (["trainer.resume_force=sure"], "trainer.resume_force"),
    # a typo in a value
    (["trainer.device=gpu"], "trainer.device"),
    (["trainer.device=cuda:x"], "trainer.device"),
    (["trainer.amp=fp32"], "trainer.amp"),
    (["trainer.nonfinite=ignore"], "trainer.nonfinite"),
    (["grad.remainder=mmcvv"], "grad.remainder"),
    (["schedule=cyclic", "schedule.anneal_strategy=cosin"], "schedule.anneal_strategy"),
    (["warmup=linear", "warmup.kind=cosine"], "warmup.kind"),
    # out of range
    (["optimizer.lr=-1"], "optimizer.lr"),
    (["optimizer.lr=0"], "optimizer.lr"),
    (["optimizer=sgd", "optimizer.momentum=1.0"], "optimizer.momentum"),
    (["optimizer=sgd", "optimizer.momentum=-0.1"], "optimizer.momentum"),
    (["optimizer.betas=[0.9,1.0]"], "optimizer.betas"),
    (["optimizer.betas=[-0.1,0.999]"], "optimizer.betas"),
    (["optimizer.betas=[0.9]"], "optimizer.betas"),
    (["optimizer.weight_decay=-0.01"], "optimizer.weight_decay"),
    (["optimizer.eps=-1e-8"], "optimizer.eps"),
    (["optimizer=sgd", "optimizer.nesterov=true"], "optimizer.nesterov"),
    (["grad.accumulate=0"], "grad.accumulate"),
    (["grad=clip", "grad.clip.max_norm=0"], "grad.clip.max_norm"),
    (["grad=clip", "grad.clip.max_norm=-1"], "grad.clip.max_norm"),
    (["grad.clip_value=0"], "grad.clip_value"),
    (["data.batch_size=0"], "data.batch_size"),
    (["data.val_batch_size=-5"], "data.val_batch_size"),
    (["data.drop_last=true", "data.batch_size=100000"], "data.batch_size"),
    (["trainer.max_epochs=0"], "trainer.max_epochs"),
    (["trainer.max_iters=-3"], "trainer.max_iters"),
    (["trainer.ckpt_every=0"], "trainer.ckpt_every"),
    (["trainer.max_nonfinite=0"], "trainer.max_nonfinite"),
    (["trainer.seed=-1"], "trainer.seed"),
    (["logging.log_every=0"], "logging.log_every"),
    # what needs the model (built on the meta device)
    ([VIT_TYPO, "model=vit_tiny"], "paramwise.custom_keys.backbone.cls_tokn"),
    (["+paramwise.custom_keys={nothing:{lr_mult:2}}"], "paramwise.custom_keys.nothing"),
    (["paramwise.norm_decay_mult=0", "optimizer=sgd", "optimizer.weight_decay=null"], "paramwise.norm_decay_mult"),
    (["optimizer=lbfgs", "+paramwise.custom_keys={head:{lr_mult:10}}"], "optimizer"),  # LBFGS: one group only
    (["optimizer=sparse_adam"], "optimizer._target_"),
    (["momentum=cosine", "optimizer=adagrad"], "momentum"),
    (["model=vit_tiny", "model.num_heads=5"], "model.num_heads"),
    (["model=resnet", "model.depth=21"], "model.depth"),
    # schedule values (docs/schedules.md), including those that need the run length
    (["schedule=step", "schedule.step=[3,2]"], "schedule.step"),
    (["schedule=cosine", "schedule.min_lr=0.1", "schedule.min_lr_ratio=0.1"], "schedule.min_lr"),
    (["schedule=cyclic", "schedule.cyclic_times=100000"], "schedule.cyclic_times"),
    (["schedule=onecycle", "schedule.pct_start=1.5"], "schedule.pct_start"),
    (["schedule=onecycle", "schedule.total_steps=10"], "schedule.total_steps"),
    (["schedule=cosine_restart", "schedule.periods=[2,2]", "schedule.restart_weights=[1,1]"], "schedule.periods"),
    (["warmup=linear", "warmup.iters=0"], "warmup.iters"),
    (["warmup=linear", "warmup.ratio=1.5"], "warmup.ratio"),
    # weight averaging (docs/optimizers.md)
    (["ema=ema", "ema.decay=1.0"], "ema.decay"),
    (["ema=ema", "ema.buffers=mean"], "ema.buffers"),
    (["ema=ema", "ema.update_every=0"], "ema.update_every"),
    (["ema=mmcv", "ema.momentum=0"], "ema.momentum"),
    (["ema=mmcv", "ema.interval=0"], "ema.interval"),
    (["ema=ema", "swa=swa"], "swa"),
    (["swa=swa", "swa.anneal_strategy=cosine"], "swa.anneal_strategy"),
    (["swa=swa", "swa.lr=-0.1"], "swa.lr"),
    (["swa=swa", "swa.start_epoch=30", "trainer.max_epochs=30"], "swa.start_epoch"),
    # data
    (["data=cifar10"], "data.root"),
    (["data=cifar10", "data.root=/nonexistent/cifar"], "data.root"),
    (["data.val_fraction=1.5"], "data.val_fraction"),
    (["data=synthetic", "data.num_train=0"], "data.num_train"),
    # the rest of the trainer and MMCV's top-level keys
    (["trainer.resume=/nonexistent/last.pt"], "trainer.resume"),
    (["trainer.amp=fp16", "trainer.device=cpu"], "trainer.amp"),
    (["custom_imports=[no_such_module]"], "custom_imports"),
    (["optimizer._target_=torch.optim.Nope"], "optimizer._target_"),
    (["optimizer=lbfgs", "grad.accumulate=2"], "grad.accumulate"),
    (["optimizer=sam", "optimizer@optimizer.base=lbfgs"], "optimizer.base"),
    (["optimizer=sam", "optimizer.base.lr=-1"], "optimizer.base.lr"),
    # a sweep: every job is checked
    (["-m", "optimizer.lr=0.1,-0.1"], "optimizer.lr"),
    (["-m", "schedule=cosine,cosin"], "schedule"),
]

# Through train.py itself: one of each kind.
END_TO_END = [
    (["schedule=cosin"], "schedule"),
    (["optimizer.lrr=0.1"], "optimizer.lrr"),
    (["trainer.max_epochs=abc"], "trainer.max_epochs"),
    (["optimizer.lr=-1"], "optimizer.lr"),
    (["grad=clip", "grad.clip.max_norm=0"], "grad.clip.max_norm"),
    (["trainer.device=gpu"], "trainer.device"),
    ([VIT_TYPO, "model=vit_tiny"], "paramwise.custom_keys.backbone.cls_tokn"),
    (["schedule=cyclic", "schedule.cyclic_times=100000"], "schedule.cyclic_times"),
    (["momentum=cosine", "optimizer=adagrad"], "momentum"),
    (["data=cifar10", "data.root=/nonexistent/cifar"], "data.root"),
    (["trainer.resume=/nonexistent/last.pt"], "trainer.resume"),
    (["-m", "optimizer.lr=0.1,-0.1"], "optimizer.lr"),
]


def test_the_table_is_large_and_covers_every_group():
    assert len(BAD) >= 40 and len(END_TO_END) >= 10
    keys = {key.split(".")[0] for _, key in BAD}
    assert keys >= {"schedule", "optimizer", "warmup", "momentum", "model", "data", "paramwise", "grad", "trainer",
                    "logging", "custom_imports"}


@pytest.mark.parametrize("args,key", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_command_line_is_one_config_error_naming_the_key(args, key):
    with pytest.raises(ConfigError) as err:
        check_command_line(args)
    message = err.value.message()
    assert err.value.key == key, message
    assert message.startswith(f"{key}: ") and "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize("args,key", END_TO_END, ids=[" ".join(a) for a, _ in END_TO_END])
def test_train_py_exits_2_with_one_line_and_writes_nothing(train_cli, tmp_path, args, key):
    out = train_cli([*args, f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep"])
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"optkit: config error: {key}: "), out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()


@pytest.mark.slow
@pytest.mark.parametrize("args,warning", [
    (["warmup=linear", "warmup.iters=1000", "trainer.max_epochs=2"], "warmup.iters: the warmup (1000 steps) covers"),
    (["trainer.ckpt_every=5", "trainer.max_epochs=2"], "trainer.ckpt_every: 5 epochs is more than the run's 2"),
])
def test_suspicious_but_legal_warns_once_and_runs(train_cli, tmp_path, args, warning):
    """Checked before Hydra and again in the run: still one line."""
    out = train_cli([*args, "trainer.dry_run=true", f"hydra.run.dir={tmp_path}"])
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"optkit: warning: {warning}"), out.stderr
    assert "optimizer: AdamW" in out.stdout


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_what_only_the_training_machine_knows_fails_before_optkit_writes(train_cli, tmp_path):
    """CUDA's presence is checked where the run starts (a SLURM job's node, not the login
    node): after Hydra's own files, before any of optkit's."""
    out = train_cli(["trainer.device=cuda", f"hydra.run.dir={tmp_path}"])
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "optkit: config error: trainer.device: CUDA is not available on this machine (got 'cuda'; did you mean cpu?)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", ".optkit.lock", "train.log"]
