"""Write tests/fixtures/checkpoints/before_multipliers/: a checkpoint from before param groups
kept their multipliers (`lr_mult`, `decay_mult`), and the digest of the same run finished
without interruption.

Run once with the code of main at 1b07b59 (the last commit whose Scheduler kept each group's
base in `initial_lr` / `initial_momentum`); tests/test_resume_legacy.py resumes `mid.pt` with
today's code and compares the finished run with `final.json`. The run: the MLP (one hidden layer of 64) on digits, SGD
with momentum and weight decay, `paramwise.bias_lr_mult=2` / `bias_decay_mult=0.5` (two
groups), a linear warmup, per-step cosine lr and cosine momentum, 12 steps, checkpointed
every 6: `prev.pt` (step 6) becomes `mid.pt`, the weights of `last.pt` (step 12) are digested.

    PYTHONPATH=$PWD/src python scripts/legacy_checkpoint.py
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from optkit.train import run  # noqa: E402
from tests.conftest import compose_config  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "checkpoints" / "before_multipliers"
OVERRIDES = [
    "model=mlp", "model.hidden=[64]", "optimizer=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9", "optimizer.weight_decay=1e-4",
    "paramwise.bias_lr_mult=2.0", "paramwise.bias_decay_mult=0.5", "schedule=cosine", "schedule.by_epoch=false",
    "warmup=linear", "warmup.iters=3", "momentum=cosine", "momentum.by_epoch=false", "trainer.max_iters=12",
    "trainer.ckpt_every=6", "trainer.ckpt_by_epoch=false", "trainer.eval_every=100", "trainer.device=cpu",
    "trainer.deterministic=true", "logging.tensorboard=false", "logging.progress=false",
]


def digest(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """sha256 of each tensor's bytes: equal digests mean bitwise equal weights."""
    return {name: hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()
            for name, t in sorted(tensors.items())}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        run(compose_config(OVERRIDES), run_dir=run_dir)
        mid = torch.load(run_dir / "prev.pt", weights_only=True)
        final = torch.load(run_dir / "last.pt", weights_only=True)
        assert mid["progress"]["step"] == 6 and final["progress"]["step"] == 12, (mid["progress"], final["progress"])
        assert all("initial_lr" in g and "initial_momentum" in g for g in mid["optimizer"]["param_groups"])
        OUT.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / "prev.pt", OUT / "mid.pt")
    record = {"overrides": OVERRIDES, "step": final["progress"]["step"], "model": digest(final["model"]),
              "lr": [g["lr"] for g in final["optimizer"]["param_groups"]],
              "momentum": [g["momentum"] for g in final["optimizer"]["param_groups"]]}
    (OUT / "final.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"{OUT}: mid.pt ({(OUT / 'mid.pt').stat().st_size} bytes), final.json")


if __name__ == "__main__":
    main()
