"""docs/tutorial.md is executed, so that it cannot rot.

Conventions of the document (checked here):
- every `python ...` line of a ```bash block is a command: `python train.py` (run for three
  steps, or as written for a dry run), `python scripts/plot_lr.py` (its curves computed; the
  PNG drawn in the slow test), `python scripts/from_mmcv.py` (run);
- a ```text block right after a ```bash block is what the block's last command prints
  (stderr, then stdout);
- a ```python block starts with `# tests/fixtures/mmcv_configs/NAME.py` (an MMCV snippet: the
  file's content; the first `python train.py` line of the next bash block is its optkit
  equivalent), `# examples/NAME.py` (code shipped in that file) or `# MMCV` (MMCV code shown
  for comparison);
- a ```yaml block starts with `# conf/experiment/NAME.yaml` and is that file;
- each `out=docs/img/NAME.png` plot has its PNG and the record scripts/make_doc_images.py
  writes, and both its numbers and the formulas of its recipe agree with the tool.
"""
from __future__ import annotations

import importlib.util
import json
import math
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from optkit.cli import check_command_line
from optkit.from_mmcv.emit import override_line
from optkit.from_mmcv.main import main as from_mmcv
from optkit.from_mmcv.read import read_config
from optkit.from_mmcv.translate import translate
from optkit.plot_lr import curves, split_args, to_json
from optkit.train import run
from tests.conftest import REPO, compose_config
from tests.test_experiment import write_fake_cifar

spec = importlib.util.spec_from_file_location("make_doc_images", REPO / "scripts" / "make_doc_images.py")
images = importlib.util.module_from_spec(spec)
spec.loader.exec_module(images)

DOC = (REPO / "docs" / "tutorial.md").read_text()
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", DOC, re.S | re.M)
COMMANDS = images.bash_commands(DOC)
OUTPUTS = {block.strip().splitlines()[-1]: text for block, text in
           re.findall(r"^```bash\n(.*?)^```\n\n```text\n(.*?)^```", DOC, re.S | re.M)}
IMAGES = images.image_commands(DOC)
SHORT = ["trainer.max_iters=3", "logging.log_every=1", "logging.progress=false", "logging.tensorboard=false",
         "trainer.device=cpu"]
PLACEHOLDER = "/path/to/cifar-10-batches-py"
FIXTURE = "# tests/fixtures/mmcv_configs/"
# The optkit nodes each MMCV key speaks of.
NODES = {"optimizer": ["optimizer", "paramwise", "optimizer_constructor"], "optimizer_config": ["grad", "trainer.amp"],
         "lr_config": ["schedule", "warmup"], "momentum_config": ["momentum"],
         "runner": ["trainer.max_epochs", "trainer.max_iters"], "data": ["data.batch_size"],
         "custom_imports": ["custom_imports", "allow_failed_imports"]}


def kind(command: str) -> str:
    return shlex.split(command)[1]


def args_of(command: str, cifar_root) -> list[str]:
    """The command's arguments, the CIFAR-10 placeholder pointing at a fake copy (and the
    ResNet-18 narrowed to width 8, so that three CPU steps stay cheap)."""
    args = shlex.split(command.replace(PLACEHOLDER, str(cifar_root)))[2:]
    return [*args, "model.width=8"] if PLACEHOLDER in command else args


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    """Ten training images: the ResNet-18 recipe's three steps stay cheap on a CPU."""
    return write_fake_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py", n=2)


def test_the_document_is_there_to_run():
    assert len(COMMANDS) >= 40 and len(IMAGES) >= 6 and len(OUTPUTS) >= 5
    assert {kind(c) for c in COMMANDS} == {"train.py", "scripts/plot_lr.py", "scripts/from_mmcv.py"}


def test_sections_follow_the_seed_tutorial():
    """Every section of MMClassification's tutorial 6, in its order."""
    headings = re.findall(r"^##+ (.+)$", DOC, re.M)
    seed = ["Build PyTorch built-in optimizers", "Customize the learning-rate schedule", "Learning-rate decay",
            "Warmup", "Customize the momentum schedule", "Parameter-wise configuration",
            "Gradient clipping and gradient accumulation", "Gradient clipping", "Gradient accumulation",
            "Custom optimization methods", "A custom optimizer", "A custom optimizer constructor"]
    assert headings[:len(seed)] == seed


# --- commands ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [c for c in COMMANDS if kind(c) == "train.py"])
def test_train_command_runs(command, cifar_root, tmp_path, capsys):
    args = args_of(command, cifar_root)
    if "trainer.dry_run=true" in args:
        check_command_line(args)
        run(compose_config(args))
        if command in OUTPUTS:
            assert capsys.readouterr().out == OUTPUTS[command]
        return
    check_command_line([*args, *SHORT])
    run(compose_config([*args, *SHORT]), run_dir=tmp_path)
    assert '"train/loss"' in (tmp_path / "metrics.jsonl").read_text()  # 3 steps (1 with grad.remainder=mmcv)


@pytest.mark.parametrize("command", [c for c in COMMANDS if kind(c) == "scripts/plot_lr.py"])
def test_plot_command_composes_and_gives_curves(command):
    overrides, tool = split_args(args_of(command, None))
    check_command_line(overrides)
    data = curves(compose_config(overrides), int(tool["iters_per_epoch"]) if "iters_per_epoch" in tool else None)
    assert data["max_iters"] > 0 and all(np.isfinite(g["lr"]).all() for g in data["groups"])


def from_mmcv_args(command: str, tmp_path) -> list[str]:
    args = shlex.split(command)[2:]
    if "-o" in args:
        args[args.index("-o") + 1] = str(tmp_path / "out.yaml")
    return args


@pytest.mark.parametrize("command", [c for c in COMMANDS if kind(c) == "scripts/from_mmcv.py"])
def test_import_command_prints_what_the_document_shows(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    expected = OUTPUTS.get(command)
    try:
        from_mmcv(from_mmcv_args(command, tmp_path))
        code = 0
    except SystemExit as err:
        code = err.code
    captured = capsys.readouterr()
    assert code == (2 if expected is not None and expected.startswith("optkit-from-mmcv: error:") else 0)
    if expected is not None:
        assert captured.err + captured.out == expected


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_command_runs_as_typed(command, cifar_root, tmp_path):
    """The user's command line in a shell, at the repository root (short runs, outputs in tmp)."""
    args = args_of(command, cifar_root)
    if kind(command) == "train.py":
        if "trainer.dry_run=true" not in args:
            args += SHORT
        args.append(f"hydra.run.dir={tmp_path}")  # a dry run too: Hydra makes its directory first
    elif kind(command) == "scripts/plot_lr.py":
        args = [a for a in args if not a.startswith("out=")] + [f"out={tmp_path}/lr.png", f"json={tmp_path}/lr.json"]
    else:
        args = from_mmcv_args(command, tmp_path)
    done = subprocess.run([sys.executable, kind(command), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    expected = OUTPUTS.get(command)
    failing = expected is not None and expected.startswith("optkit-from-mmcv: error:")
    assert done.returncode == (2 if failing else 0), done.stderr
    if expected is not None:
        assert done.stderr + done.stdout == expected
    if kind(command) == "scripts/plot_lr.py":
        assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


# --- blocks that are files -----------------------------------------------------------------------------


def blocks(lang: str) -> list[tuple[int, str]]:
    return [(i, body) for i, (language, body) in enumerate(BLOCKS) if language == lang]


def test_every_python_block_says_what_it_is():
    for _, body in blocks("python"):
        first = body.splitlines()[0]
        assert first.startswith((FIXTURE, "# examples/", "# MMCV")), first


SNIPPETS = [(i, body) for i, body in blocks("python") if body.startswith(FIXTURE)]


def snippet_file(body: str):
    return REPO / body.splitlines()[0][2:]


def test_every_snippet_of_the_seed_tutorial_is_here():
    assert len(SNIPPETS) == 17


@pytest.mark.parametrize("index,body", SNIPPETS)
def test_mmcv_snippet_is_its_fixture_file(index, body):
    assert body.split("\n", 1)[1].rstrip() == snippet_file(body).read_text().rstrip()


def optkit_command(index: int) -> str:
    """The first `python train.py` line of the bash block after block `index`."""
    following = next(body for language, body in BLOCKS[index + 1:] if language == "bash")
    return next(line for line in following.splitlines() if line.startswith("python train.py"))


def select(cfg, nodes: list[str]) -> dict:
    return {node: OmegaConf.to_container(OmegaConf.create({"v": OmegaConf.select(cfg, node)}))["v"]
            for node in nodes}


@pytest.mark.parametrize("index,body", SNIPPETS)
def test_mmcv_snippet_imports_to_the_command_below_it(index, body):
    """The round trip: importing the snippet gives the documented optkit config on every node
    the snippet speaks of, and the same lr and momentum curves."""
    cfg = read_config(snippet_file(body))
    nodes = [node for key in cfg for node in NODES.get(key, [])]
    assert nodes
    imported = shlex.split(override_line(translate(cfg, "snippet")))
    documented = shlex.split(optkit_command(index))[2:]
    assert select(compose_config(imported), nodes) == select(compose_config(documented), nodes)
    if {"lr_config", "momentum_config"} & set(cfg):
        a, b = (curves(compose_config([*args, "trainer.max_epochs=60"]), 50) for args in (imported, documented))
        for x, y in zip(a["groups"], b["groups"], strict=True):
            np.testing.assert_array_equal(x["lr"], y["lr"])
            np.testing.assert_array_equal(x["momentum"], y["momentum"])


@pytest.mark.parametrize("body", [body for _, body in blocks("python") if body.startswith("# examples/")])
def test_example_code_is_the_shipped_file(body):
    first, code = body.split("\n", 1)
    assert code in (REPO / first[2:]).read_text()


@pytest.mark.parametrize("body", [body for _, body in blocks("yaml")])
def test_yaml_block_is_the_experiment_file(body):
    first = body.splitlines()[0]
    assert first.startswith("# conf/experiment/")
    assert yaml.safe_load(body) == yaml.safe_load((REPO / first[2:]).read_text())


# --- pictures ----------------------------------------------------------------------------------------------


def cos(start, end, f):
    return end + 0.5 * (start - end) * (1 + np.cos(np.pi * f))


def linear_warmup(lr, i, length, ratio):
    return np.where(i < length, lr * (1 - (1 - i / length) * (1 - ratio)), lr)


def expected_curves(name: str, n: int, m: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(lr, momentum or None) of each distinct group, from the recipe's numbers alone."""
    i = np.arange(m)
    e, epochs = i // n, math.ceil(m / n)
    if name == "tutorial_step":  # SGD 0.1, x 0.1 at epochs 100 and 150
        return [(0.1 * 0.1 ** ((e >= 100).astype(int) + (e >= 150)), None)]
    if name == "tutorial_cosine":  # AdamW 1e-3, cosine by epoch to 1e-5 x base
        return [(cos(1e-3, 1e-3 * 1e-5, e / epochs), None)]
    if name == "tutorial_poly":  # SGD 0.01, per step, power 0.9, absolute min 1e-4
        return [((0.01 - 1e-4) * (1 - i / m) ** 0.9 + 1e-4, None)]
    if name == "tutorial_warmup_linear":  # cosine per step to 1e-2 x base; linear warmup 25040 steps from 1e-3
        return [(linear_warmup(cos(1e-3, 1e-5, i / m), i, 25040, 1e-3), None)]
    if name == "tutorial_warmup_exp":  # cosine by epoch to 0; exp warmup over 5 epochs from 0.1
        regular = cos(1e-3, 0.0, e / epochs)
        return [(np.where(i < 5 * n, regular * 0.1 ** (1 - i / (5 * n)), regular), None)]
    if name == "tutorial_cyclic":  # SGD 0.01 momentum 0.95; one cycle, 40 % up
        up = int(0.4 * m)
        lr = np.where(i < up, cos(0.01, 0.1, i / up), cos(0.1, 0.01 * 1e-4, (i - up) / (m - up)))
        momentum = np.where(i < up, cos(0.95, 0.85, i / up), cos(0.85, 0.95, (i - up) / (m - up)))
        return [(lr, momentum)]
    if name == "vit_finetune":  # layer k of 0..5 at 1e-3 x 0.65^(5 - k); warmup 5 epochs; cosine to 1e-6
        out = []
        for k in range(6):
            base = 1e-3 * 0.65 ** (5 - k)
            out.append((linear_warmup(cos(base, 1e-6, i / m), i, 5 * n, 1e-3), None))
        return out
    raise KeyError(name)


@pytest.mark.parametrize("png", sorted(IMAGES))
def test_picture_is_the_tools_and_matches_the_recipe(png):
    command = IMAGES[png]
    name = png.rsplit("/", 1)[1].removesuffix(".png")
    assert f"](img/{name}.png)" in DOC
    assert (REPO / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((REPO / png).with_suffix(".json").read_text())
    assert record["command"] == command, "the command changed: python scripts/make_doc_images.py"
    overrides, tool = split_args(images.tool_args(command))
    data = curves(compose_config(overrides), int(tool["iters_per_epoch"]) if "iters_per_epoch" in tool else None)
    data = json.loads(json.dumps(to_json(data)))
    now = images.sample(data, command)
    assert (now["iters_per_epoch"], now["max_iters"], now["steps"]) == (
        record["iters_per_epoch"], record["max_iters"], record["steps"])
    for a, b in zip(now["groups"], record["groups"], strict=True):
        assert a["name"] == b["name"]
        np.testing.assert_allclose(a["lr"], b["lr"], rtol=1e-12, err_msg="redraw: python scripts/make_doc_images.py")
    expected = expected_curves(name, data["iters_per_epoch"], data["max_iters"])
    matched = 0
    for lr, momentum in expected:
        groups = [g for g in data["groups"] if math.isclose(g["lr"][0], lr[0], rel_tol=1e-9)]
        assert groups, f"no group starts at {lr[0]}"
        matched += len(groups)
        for group in groups:
            np.testing.assert_allclose(group["lr"], lr, rtol=1e-12, atol=1e-18)
            if momentum is not None:
                np.testing.assert_allclose(group["momentum"], momentum, rtol=1e-12)
            elif group["momentum"] is not None:
                assert len(set(group["momentum"])) == 1
    assert matched == len(data["groups"])
