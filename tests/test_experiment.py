"""conf/experiment/: every recipe composes, passes the config check and trains for a few
steps; each tutorial recipe is what the importer makes of the tutorial's MMCV snippet."""
from __future__ import annotations

import shlex

import pytest
from omegaconf import OmegaConf

from optkit.cli import check_command_line
from optkit.config import CONF_DIR
from optkit.errors import ConfigError
from optkit.from_mmcv.emit import override_line
from optkit.from_mmcv.read import read_config
from optkit.from_mmcv.translate import translate
from optkit.train import run
from tests import test_data
from tests.conftest import REPO, compose_config, run_train

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
TUTORIAL = [name for name in EXPERIMENTS if name.startswith("tutorial_")]
SHORT = ["trainer.max_iters=3", "logging.log_every=1", "logging.progress=false", "logging.tensorboard=false",
         "trainer.device=cpu"]
CONFIGS = REPO / "tests" / "fixtures" / "mmcv_configs"
# What an imported snippet may change on top of its recipe: a snippet without lr_config means
# a constant lr in MMCV (schedule=fixed); accumulation keeps MMCV's clock (grad.remainder=mmcv)
# while the recipe uses optkit's exact k x b rule.
MAY_DIFFER = {"tutorial_accumulate": ("schedule", "grad.remainder")}
LR_SNIPPETS = ("tutorial_step", "tutorial_cosine", "tutorial_poly", "tutorial_warmup_linear", "tutorial_warmup_exp",
               "tutorial_cyclic")


def write_fake_cifar(folder, n=20):
    """tests/test_data.py's fake CIFAR-10 python batches; returns the folder."""
    test_data.write_fake_cifar(folder, n)
    return folder


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    return write_fake_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py")


def overrides(name: str, cifar_root) -> list[str]:
    extra = [f"data.root={cifar_root}", "data.batch_size=8", "model.width=8"] if name == "resnet_cifar10" else []
    return [f"+experiment={name}", *extra]


def test_the_tutorial_has_its_recipes():
    assert len(TUTORIAL) == 15 and {"resnet_cifar10", "vit_finetune"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_recipe_is_a_global_package_that_passes_the_config_check(name, cifar_root):
    assert (CONF_DIR / "experiment" / f"{name}.yaml").read_text().startswith("# @package _global_\n")
    check_command_line(overrides(name, cifar_root))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_recipe_trains_a_few_steps(name, cifar_root, tmp_path):
    run(compose_config([*overrides(name, cifar_root), *SHORT]), run_dir=tmp_path)
    assert (tmp_path / "metrics.jsonl").read_text().count('"train/loss"') == 3


def test_resnet_cifar10_is_the_full_recipe():
    cfg = compose_config(["+experiment=resnet_cifar10"])
    assert (cfg.model.depth, cfg.model.width, cfg.data.batch_size, cfg.trainer.max_epochs) == (18, 64, 128, 200)
    assert (cfg.optimizer._target_, cfg.optimizer.lr, cfg.optimizer.momentum, cfg.optimizer.weight_decay) == (
        "torch.optim.SGD", 0.1, 0.9, 5e-4)


def test_resnet_cifar10_without_data_root_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        run(compose_config(["+experiment=resnet_cifar10", *SHORT]), run_dir=tmp_path)
    assert err.value.key == "data.root"


def test_vit_finetune_groups():
    """Layer-wise decay on top of the no-decay rules: the head keeps the lr, the embeddings
    get 0.65^5 of it, and tokens, norms and biases have no weight decay in any layer."""
    from optkit.plot_lr import curves

    groups = curves(compose_config(["+experiment=vit_finetune"]))["groups"]
    first = {g["name"]: g["lr"][0] for g in groups}  # base × warmup ratio (later, the absolute min_lr shows)
    head = first["layer5"]
    assert head == pytest.approx(1e-3 * 1e-3)
    assert first["layer0"] == pytest.approx(head * 0.65**5) and first["layer3"] == pytest.approx(head * 0.65**2)
    assert "layer0.backbone.cls_token+backbone.pos_embed" in first and "layer2.bias+norm" in first


def differences(a, b, prefix="") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return {d for key in a.keys() | b.keys() for d in differences(a.get(key), b.get(key), f"{prefix}{key}.")}
    return set() if a == b else {prefix.rstrip(".")}


@pytest.mark.parametrize("name", [name for name in TUTORIAL if (CONFIGS / f"{name}.py").exists()])
def test_recipe_is_the_import_of_its_mmcv_snippet(name):
    """The import of tests/fixtures/mmcv_configs/<name>.py changes nothing the snippet speaks of
    when applied on top of conf/experiment/<name>.yaml."""
    recipe = compose_config([f"+experiment={name}"])
    line = override_line(translate(read_config(CONFIGS / f"{name}.py"), name))
    both = compose_config([f"+experiment={name}", *shlex.split(line)])
    may_differ = MAY_DIFFER.get(name, () if name in LR_SNIPPETS else ("schedule",))
    changed = differences(OmegaConf.to_container(recipe), OmegaConf.to_container(both))
    assert {key for key in changed if not key.startswith(may_differ)} == set()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tutorial_cyclic", "vit_finetune"])
def test_recipe_runs_from_the_command_line(name, tmp_path):
    done = run_train([f"+experiment={name}", *SHORT, f"hydra.run.dir={tmp_path}"])
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_resnet_cifar10_without_root_exits_2_with_one_line(tmp_path):
    done = run_train(["+experiment=resnet_cifar10", *SHORT, f"hydra.run.dir={tmp_path}"])
    assert done.returncode == 2 and done.stderr.startswith("optkit: config error: data.root:")
    assert "Traceback" not in done.stderr
