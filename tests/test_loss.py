"""The `loss` group and MMCls's batch mixup / cutmix, against their formulas."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from optkit.batch_augment import Augment, BatchAugments, check_augments, cutmix, cutmix_box, mixup
from optkit.errors import ConfigError
from optkit.loss import CrossEntropy, build_loss, soft_target_cross_entropy

LOGITS = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
LABELS = torch.tensor([0, 1, 2, 3, 1, 1])
ONEHOT = F.one_hot(LABELS, 4).float()
LOG_P = F.log_softmax(LOGITS, dim=1)


def smoothed(eps: float) -> torch.Tensor:
    return (1 - eps) * ONEHOT + eps / 4


CASES = {
    "plain": (CrossEntropy(), LABELS, -(ONEHOT * LOG_P).sum(1).mean()),
    "label_smoothing": (CrossEntropy(label_smoothing=0.1), LABELS, -(smoothed(0.1) * LOG_P).sum(1).mean()),
    "weight": (CrossEntropy(weight=[1, 2, 0.5, 3]), LABELS,
               -(torch.tensor([1, 2, 0.5, 3])[LABELS] * LOG_P[range(6), LABELS]).sum()
               / torch.tensor([1, 2, 0.5, 3])[LABELS].sum()),
    "soft_targets": (CrossEntropy(), smoothed(0.3), -(smoothed(0.3) * LOG_P).sum(1).mean()),
    "soft_target_ce_hard": (soft_target_cross_entropy, LABELS, -(ONEHOT * LOG_P).sum(1).mean()),
    "soft_target_ce_soft": (soft_target_cross_entropy, smoothed(0.2), -(smoothed(0.2) * LOG_P).sum(1).mean()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_losses_match_their_formulas(case):
    loss, target, expected = CASES[case]
    assert loss(LOGITS, target).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("node,expected", [
    ({"_target_": "optkit.loss.CrossEntropy", "label_smoothing": 0.1}, -(smoothed(0.1) * LOG_P).sum(1).mean()),
    ({"_target_": "examples.mylab.loss.focal", "gamma": 0.0}, F.cross_entropy(LOGITS, LABELS)),
    ({"_target_": "examples.mylab.loss.focal", "gamma": 2.0},
     (-(1 - LOG_P.exp()[range(6), LABELS]) ** 2 * LOG_P[range(6), LABELS]).mean()),
    ({"_target_": "torch.nn.CrossEntropyLoss"}, F.cross_entropy(LOGITS, LABELS)),
])
def test_a_class_is_instantiated_and_a_function_bound(node, expected):
    loss = build_loss(OmegaConf.create(node))
    assert loss(LOGITS, LABELS).item() == pytest.approx(expected.item(), rel=1e-6)


def test_bad_loss_settings_are_config_errors():
    with pytest.raises(ConfigError, match="loss.label_smoothing: must be in"):
        build_loss(OmegaConf.create({"_target_": "optkit.loss.CrossEntropy", "label_smoothing": 1.5}))
    with pytest.raises(ConfigError, match="loss.weight: has 3 class weights for 4 classes"):
        CrossEntropy(weight=[1, 1, 1])(LOGITS, LABELS)


IMAGES = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
PAIR = F.one_hot(torch.tensor([0, 2]), 3).float()
SWAP = torch.tensor([1, 0])


def test_mixup_blends_images_and_targets():
    x, t = mixup(IMAGES, PAIR, 0.3, SWAP)
    assert torch.allclose(x[0], 0.3 * IMAGES[0] + 0.7 * IMAGES[1])
    assert torch.allclose(t, torch.tensor([[0.3, 0, 0.7], [0.7, 0, 0.3]]))


@pytest.mark.parametrize("lam,cy,cx,box", [
    (0.75, 2, 2, (1, 3, 1, 3)),  # side ratio sqrt(0.25) = 0.5: a 2×2 box centred at (2, 2)
    (0.75, 0, 0, (0, 1, 0, 1)),  # clipped at the corner: 1 pixel, so λ becomes 15/16
    (0.0, 3, 1, (1, 4, 0, 3)),   # the whole side (4), clipped to 3 rows and 3 columns
])
def test_cutmix_box_and_lambda_follow_mmcls(lam, cy, cx, box):
    assert cutmix_box(4, 4, lam, cy, cx) == box
    x, t = cutmix(IMAGES, PAIR, box, SWAP)
    y1, y2, x1, x2 = box
    kept = 1 - (y2 - y1) * (x2 - x1) / 16
    assert torch.equal(x[0, :, y1:y2, x1:x2], IMAGES[1, :, y1:y2, x1:x2])
    assert int((x[0] != IMAGES[0]).sum()) == (y2 - y1) * (x2 - x1)
    assert torch.allclose(t[0], torch.tensor([kept, 0, 1 - kept]))


def test_augments_are_drawn_with_their_probabilities_and_replay_from_the_rng():
    images = torch.randn(8, 3, 8, 8)
    labels = torch.arange(8) % 4
    augments = BatchAugments([Augment("BatchMixup", 0.8, 0.25), Augment("BatchCutMix", 1.0, 0.25)], 4,
                             lambda index: (images[index], labels[index]))
    np.random.seed(0)
    torch.manual_seed(0)
    draws = [augments(torch.arange(8)) for _ in range(400)]
    untouched = sum(torch.equal(x, images) for x, _ in draws)
    assert 150 < untouched < 250  # half pick no augment
    assert all(torch.allclose(t.sum(1), torch.ones(8)) for _, t in draws)
    np.random.seed(0)
    torch.manual_seed(0)
    again = [augments(torch.arange(8)) for _ in range(3)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(draws, again))


@pytest.mark.parametrize("augments,in_shape,message", [
    ([{"type": "Mixup"}], None, "augments[0].type: unknown batch augment"),
    ([{"type": "BatchMixup", "alpha": 0}], None, "augments[0].alpha: must be > 0"),
    ([{"type": "BatchMixup", "prob": 0.6}, {"type": "BatchCutMix", "prob": 0.6}], None,
     "augments: the probs add up to more than 1"),
    ([{"type": "BatchCutMix"}], (64,), "augments[0].type: cuts boxes out of images"),
])
def test_bad_augments_are_config_errors(augments, in_shape, message):
    with pytest.raises(ConfigError) as err:
        check_augments(augments, in_shape)
    assert str(err.value).startswith(message)
