"""The importer's model keys: the head's loss, `train_cfg.augments` and `load_from`
(optkit.from_mmcv.model_keys), for MMCls 0.x and MMPretrain 1.x configs."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from optkit.from_mmcv.mmengine_keys import translate_mmengine
from optkit.from_mmcv.translate import translate
from optkit.loss import CrossEntropy

MIXUP_CUTMIX_0X = [{"type": "BatchMixup", "alpha": 0.8, "num_classes": 1000, "prob": 0.5},
                   {"type": "BatchCutMix", "alpha": 1.0, "num_classes": 1000, "prob": 0.5}]
BOTH = [{"type": "BatchMixup", "alpha": 0.8, "prob": 0.5}, {"type": "BatchCutMix", "alpha": 1.0, "prob": 0.5}]


def model(loss=None, augments=None, **train_cfg) -> dict:
    head = {"type": "LinearClsHead", "num_classes": 1000, "in_channels": 512}
    if loss is not None:
        head["loss"] = loss
    if augments is not None:
        train_cfg["augments"] = augments
    return {"model": {"type": "ImageClassifier", "backbone": {"type": "ResNet"}, "head": head,
                      **({"train_cfg": train_cfg} if train_cfg else {})}}


@pytest.mark.parametrize("cfg, values", [
    (model({"type": "LabelSmoothLoss", "label_smooth_val": 0.1, "mode": "original"}), {("loss", "label_smoothing"): 0.1}),
    (model({"type": "LabelSmoothLoss", "label_smooth_val": 0.1}), {("loss", "label_smoothing"): 0.1}),
    (model({"type": "LabelSmoothLoss", "label_smooth_val": 0.1, "mode": "classy_vision"}),
     {("loss", "label_smoothing"): 0.1 / 1.1}),
    (model({"type": "CrossEntropyLoss", "use_soft": True, "loss_weight": 1.0}), {}),
    (model(augments=MIXUP_CUTMIX_0X), {("augments",): BOTH}),
    (model(augments={"type": "BatchMixup", "alpha": 0.2, "num_classes": 10}),
     {("augments",): [{"type": "BatchMixup", "alpha": 0.2, "prob": 1.0}]}),
    (model(augments=[{"type": "Mixup", "alpha": 0.8}, {"type": "CutMix", "alpha": 1.0}]), {("augments",): BOTH}),
    (model(augments=[{"type": "Mixup", "alpha": 0.8}, {"type": "CutMix", "alpha": 1.0}], probs=[0.3, 0.2]),
     {("augments",): [{"type": "BatchMixup", "alpha": 0.8, "prob": 0.3},
                      {"type": "BatchCutMix", "alpha": 1.0, "prob": 0.2}]}),
    ({"load_from": "work_dirs/r18/epoch_100.pth"},
     {("trainer", "load_from"): "work_dirs/r18/epoch_100.pth", ("trainer", "load_strict"): False}),
    ({"load_from": None}, {}),
])
def test_what_translates(cfg, values):
    for translated in (translate(cfg, "c.py"), translate_mmengine(cfg, "c.py")):
        assert translated.values == values
        assert not [line for line in translated.skipped + translated.notes if line.startswith(("model.", "load_from"))]


@pytest.mark.parametrize("cfg, line", [
    (model({"type": "LabelSmoothLoss", "label_smooth_val": 0.1, "mode": "multi_label"}), "model.head.loss: LabelSmoothLoss with a sigmoid"),
    (model({"type": "CrossEntropyLoss", "use_sigmoid": True}), "model.head.loss: CrossEntropyLoss with a sigmoid"),
    (model({"type": "CrossEntropyLoss", "loss_weight": 2.0}), "model.head.loss: CrossEntropyLoss: optkit's loss is the batch mean"),
    (model({"type": "CrossEntropyLoss", "class_weight": [1.0, 2.0]}), "model.head.loss.class_weight: MMCls averages"),
    (model({"type": "FocalLoss"}), "model.head.loss: 'FocalLoss': no optkit equivalent"),
    (model(augments=[{"type": "BatchCutMix", "alpha": 1.0, "cutmix_minmax": [0.2, 0.8]}]),
     "model.train_cfg.augments.0: BatchCutMix: optkit's cutmix is MMCls's default"),
    (model(augments=[{"type": "ResizeMix", "alpha": 1.0}]), "model.train_cfg.augments.0: 'ResizeMix': optkit mixes"),
    (model(augments=[{"type": "Mixup", "alpha": 0.8}], probs=[0.5, 0.5]), "model.train_cfg.probs: [0.5, 0.5]: one prob"),
    ({"load_from": "https://download.openmmlab.com/r18.pth"}, "load_from: https://download.openmmlab.com/r18.pth: a URL"),
])
def test_what_does_not_translate_is_one_line_and_an_mmengine_setting(cfg, line):
    mmcv, mmengine = translate(cfg, "c.py"), translate_mmengine(cfg, "c.py")
    assert any(entry.startswith(line) for entry in mmcv.skipped), mmcv.skipped
    assert any(entry.startswith(line) for entry in mmengine.skipped), mmengine.skipped
    assert [entry for entry in mmengine.dropped if entry.startswith(line)] == (
        [] if line.startswith("load_from") else [entry for entry in mmengine.skipped if entry.startswith(line)])


def mmcls_label_smooth_loss(logits: torch.Tensor, target: torch.Tensor, eps: float, mode: str) -> torch.Tensor:
    """MMCls 0.x LabelSmoothLoss, written out: smooth the one-hot (or mixed) target to
    t·(1 − ε) + ε / C (classy_vision: ε / (1 + ε)), then the soft cross-entropy, batch mean."""
    if mode == "classy_vision":
        eps = eps / (1 + eps)
    onehot = F.one_hot(target, logits.shape[1]).to(logits.dtype) if target.ndim == 1 else target
    smooth = onehot * (1 - eps) + eps / logits.shape[1]
    return (-smooth * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


@pytest.mark.parametrize("mode", ["original", "classy_vision"])
@pytest.mark.parametrize("soft", [False, True])
def test_the_imported_smoothing_is_mmcls_label_smooth_loss(mode, soft):
    torch.manual_seed(0)
    logits = torch.randn(16, 10, dtype=torch.float64)
    target = torch.randint(0, 10, (16,))
    if soft:  # after mixup
        target = 0.7 * F.one_hot(target, 10).double() + 0.3 * F.one_hot(target.roll(1), 10).double()
    cfg = model({"type": "LabelSmoothLoss", "label_smooth_val": 0.1, "mode": mode})
    smoothing = translate(cfg, "c.py").values[("loss", "label_smoothing")]
    ours = CrossEntropy(label_smoothing=smoothing)(logits, target)
    torch.testing.assert_close(ours, mmcls_label_smooth_loss(logits, target, 0.1, mode), rtol=1e-12, atol=1e-12)
