"""Every option of every config group composes and builds; schemas carry the defaults."""
from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from optkit import schedule
from optkit.config import CONF_DIR, TrainerConfig, target_name
from tests.conftest import compose_config

GROUPS = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name not in ("hydra", "experiment"))
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes(group, option):
    extra = ["data.root=/nonexistent"] if (group, option) == ("data", "cifar10") else []
    cfg = compose_config([f"{group}={option}", *extra])
    assert OmegaConf.to_container(cfg, resolve=True)
    node = cfg[group]
    if node is not None and "_target_" in node and group in ("schedule", "warmup", "momentum"):
        assert instantiate(node) is not None


def test_defaults_come_from_dataclasses():
    cfg = compose_config([])
    assert cfg.trainer.max_epochs == TrainerConfig.max_epochs
    assert OmegaConf.get_type(cfg.trainer) is TrainerConfig
    cos = compose_config(["schedule=cosine"]).schedule
    assert cos._target_ == "optkit.schedule.CosineAnnealing"
    assert cos.by_epoch is schedule.CosineAnnealing().by_epoch


def test_every_lr_policy_has_a_yaml_option():
    assert set(schedule.LR_POLICIES) == {p.stem for p in (CONF_DIR / "schedule").glob("*.yaml")}


@pytest.mark.parametrize("override,key", [
    ("trainer.max_epochs=abc", "trainer.max_epochs"),
    ("schedule.by_epoch=maybe", "schedule.by_epoch"),
    ("warmup.ratio=x", "warmup.ratio"),
])
def test_schema_rejects_wrong_types(override, key):
    with pytest.raises(Exception) as err:
        compose_config([override])
    assert key in str(err.value)


@pytest.mark.parametrize("node,name", [
    ({"_target_": "optkit.data.load_digits"}, "digits"),
    ({"_target_": "optkit.schedule.CosineAnnealing"}, "CosineAnnealing"),
    ({"_target_": "torch.optim.AdamW", "lr": 0.1}, "AdamW"),
    ({}, "?"),
    (None, "none"),
])
def test_target_name_is_the_short_class_or_loader_name(node, name):
    assert target_name(node) == name
