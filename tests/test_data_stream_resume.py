"""End to end through train.py: a streamed run with two DataLoader workers and random
per-sample augmentation, killed with SIGKILL at a random step and resumed, ends bitwise where
the uninterrupted run ends (flush and mmcv windows); bad data input and bad models are one
line and exit 2 before anything is written; an undecodable image stops the run with one line
naming it and leaves a loadable last.pt."""
from __future__ import annotations

import random

import pytest
import torch

from optkit.data import epoch_order
from optkit.data.image_folder import list_images
from tests.conftest import run_train
from tests.test_data_image_folder import write_folder
from tests.test_data_stream import STREAM, TARGET
from tests.test_resume import kill_at

NOISY = [*STREAM, "+data.train.noise=0.5", "data.num_workers=2", "data.batch_size=16", "model=mlp",
         "model.dropout=0.1", "optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9", "schedule=cosine",
         "trainer.max_epochs=3", "trainer.device=cpu", "trainer.deterministic=true", "trainer.ckpt_every=1",
         "trainer.ckpt_by_epoch=false", "logging.log_every=4", "logging.tensorboard=false", "logging.progress=false"]
CASES = {"flush": [*NOISY, "grad.accumulate=2"], "mmcv": [*NOISY, "grad.accumulate=3", "grad.remainder=mmcv"]}


@pytest.mark.slow
@pytest.mark.parametrize("case,seed", [("flush", 0), ("mmcv", 1)])
def test_a_streamed_run_killed_anywhere_resumes_bitwise(tmp_path, case, seed):
    full = run_train([*CASES[case], f"hydra.run.dir={tmp_path / 'full'}"])
    assert full.returncode == 0, full.stderr
    reference = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    total = reference["progress"]["step"]
    assert total == (3 * 10 if case == "flush" else 3 * 19 // 3)  # 19 micro-batches of 16 per epoch
    killed_at = kill_at(CASES[case], tmp_path / "cut", random.Random(seed).randint(3, int(0.7 * total)))
    assert 0 < killed_at < total
    resumed = run_train([*CASES[case], f"hydra.run.dir={tmp_path / 'cut'}"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"at step {killed_at}" in resumed.stdout
    final = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)
    assert final["progress"] == reference["progress"]
    for key in reference["model"]:
        assert torch.equal(reference["model"][key], final["model"][key]), key


BAD = {
    "missing_root": (["data=image_folder", "data.root=/nonexistent/images"],
                     "data.root: no such directory (got '/nonexistent/images')"),
    "no_import": ([*STREAM, "data.train._target_=mylab.nowhere.Rings"], "data.train._target_: cannot import"),
    "not_a_pair": ([*STREAM, f"data.train._target_={TARGET}.NotAPair"],
                   "data.train: a sample must be (input, label), sample 0 is a Tensor"),
    "model_args": (["model=custom", "model._target_=examples.mylab.model.make_net", "+model.width=8"],
                   "model: cannot build examples.mylab.model.make_net:"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_or_model_is_one_line_and_exit_2_before_any_file(tmp_path, case):
    overrides, message = BAD[case]
    out = run_train([*overrides, f"hydra.run.dir={tmp_path / 'run'}"])
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert out.stderr.startswith(f"optkit: config error: {message}"), out.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_an_undecodable_image_stops_the_run_with_one_line_and_last_pt_loads(tmp_path):
    root = write_folder(tmp_path / "images", per_class=40, size=(32, 32))
    order = epoch_order(120, 0, 0, True)  # trainer.seed=0; the 6th batch of 8 holds position 45
    bad = list_images(str(root))[1]["train"][int(order[45])][0]
    bad.write_bytes(b"\xff\xd8 not an image")
    out = run_train(["data=image_folder", f"data.root={root}", "data.size=32", "data.batch_size=8", "model=mlp",
                     "trainer.ckpt_every=1", "trainer.ckpt_by_epoch=false", "trainer.max_epochs=2",
                     "logging.progress=false", f"hydra.run.dir={tmp_path / 'run'}"])
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("optkit: data error: reading a training batch: OSError: "
                                                          f"{bad}: cannot be decoded"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["progress"]["step"] == 5  # every step before the bad batch, none after
