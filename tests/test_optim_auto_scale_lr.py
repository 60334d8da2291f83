"""`auto_scale_lr`: optimizer.lr × (world × batch × accumulate) / base_batch_size (MMDetection's
`auto_scale_lr`, MMEngine's `Runner.scale_lr`), or its square root; every param group follows
through its multiplier; the dry run shows the scaling."""
from __future__ import annotations

import math
import re
import shlex

import pytest
from torch import nn

from optkit.errors import ConfigError
from optkit.optim import build_optimizer
from optkit.train import run
from optkit.validate import check
from tests.conftest import REPO, compose_config

CASES = [  # (world size, batch, accumulate, base, rule, expected factor)
    (1, 64, 1, 64, "linear", 1.0),
    (1, 64, 2, 256, "linear", 0.5),
    (8, 32, 1, 256, "linear", 1.0),  # MMEngine configs: base 256 = 8 GPUs × 32
    (4, 128, 4, 256, "linear", 8.0),
    (2, 64, 1, 512, "sqrt", 0.5),
    (4, 64, 4, 256, "sqrt", 2.0),
]


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.mark.parametrize("world,batch,accumulate,base,rule,factor", CASES)
def test_every_group_lr_is_scaled_by_the_total_batch(world, batch, accumulate, base, rule, factor):
    cfg = compose_config(["optimizer=sgd", "optimizer.lr=0.1", "paramwise.bias_lr_mult=2", f"data.batch_size={batch}",
                          f"grad.accumulate={accumulate}", "auto_scale_lr.enable=true",
                          f"auto_scale_lr.base_batch_size={base}", f"auto_scale_lr.rule={rule}"])
    lrs = sorted(group["lr"] for group in build_optimizer(model(), cfg, world).param_groups)
    assert lrs == [pytest.approx(0.1 * factor, rel=1e-15), pytest.approx(0.2 * factor, rel=1e-15)]
    assert math.isclose(factor, (world * batch * accumulate / base) ** (0.5 if rule == "sqrt" else 1.0))


def test_off_by_default_and_the_lr_stays():
    cfg = compose_config(["optimizer=sgd", "optimizer.lr=0.1", "data.batch_size=512"])
    assert [g["lr"] for g in build_optimizer(model(), cfg, 8).param_groups] == [0.1]


def test_the_dry_run_shows_the_scaling_as_docs_optimizers_md_does(capsys):
    """The documented command prints the documented line."""
    doc = (REPO / "docs" / "optimizers.md").read_text().split("## Scaling the lr with the batch", 1)[1]
    command = re.search(r"```bash\n(python train.py [^\n]*)\n```", doc).group(1)
    shown = re.search(r"```\n(auto_scale_lr [^\n]*)\n```", doc).group(1)
    run(compose_config(shlex.split(command)[2:]))
    out = capsys.readouterr().out
    assert shown in out.splitlines()
    assert "default       14    24,490  0.05" in out


@pytest.mark.parametrize("args,key", [
    (["auto_scale_lr.enable=true"], "auto_scale_lr.base_batch_size"),
    (["auto_scale_lr.enable=true", "auto_scale_lr.base_batch_size=0"], "auto_scale_lr.base_batch_size"),
    (["auto_scale_lr.rule=square"], "auto_scale_lr.rule"),
])
def test_bad_settings_are_one_config_error(args, key):
    with pytest.raises(ConfigError) as err:
        check(compose_config(args))
    assert err.value.key == key
