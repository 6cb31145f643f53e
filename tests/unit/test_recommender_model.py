"""DIN / BaseModel behaviour and the ranking metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepseek_apps.apps.recommender.metrics import evaluate_scores, rela_impr
from deepseek_apps.apps.recommender.model import DIN, Dice, DINConfig, LocalActivationUnit
from deepseek_apps.core.metrics import gauc, log_loss
from deepseek_apps.core.metrics import roc_auc as auc


def _inputs(b=6, length=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    hist = torch.randint(1, 50, (b, length), generator=g)
    hist[:, :3] = 0
    return (
        torch.randint(0, 4, (b, 2), generator=g),
        torch.randint(1, 50, (b,), generator=g),
        torch.randint(1, 5, (b,), generator=g),
        hist,
        torch.randint(1, 5, (b, length), generator=g) * (hist > 0),
    )


@pytest.fixture(
    params=[
        ("attention", "prelu", 1),
        ("attention", "dice", 1),
        ("attention", "prelu", 8),
        ("sum", "prelu", 1),
        ("mean", "dice", 1),
    ]
)
def model(request):
    pooling, act, heads = request.param
    torch.manual_seed(0)
    m = DIN(DINConfig(49, 4, (4, 4), pooling=pooling, activation=act, attention_heads=heads))
    m.train()
    m(*_inputs(64, 9, 5))  # give Dice some running statistics
    return m.eval()


def test_padding_does_not_change_the_score(model):
    feats, item, cat, hist, hcat = _inputs()
    p1, a1 = model(feats, item, cat, hist, hcat)
    pad = torch.zeros(hist.shape[0], 5, dtype=torch.long)
    p2, a2 = model(feats, item, cat, torch.cat([pad, hist], 1), torch.cat([pad, hcat], 1))
    torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a2[:, 5:], a1, rtol=1e-5, atol=1e-6)
    assert (a2[:, :5] == 0).all() and (a1[:, :3] == 0).all()


def test_a_shared_history_broadcasts_like_a_repeated_one(model):
    feats, item, cat, hist, hcat = _inputs()
    p1, a1 = model(feats[:1], item, cat, hist[:1], hcat[:1])
    b = item.shape[0]
    p2, a2 = model(feats[:1].expand(b, -1), item, cat, hist[:1].expand(b, -1), hcat[:1].expand(b, -1))
    torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a1, a2, rtol=1e-5, atol=1e-6)


def test_outputs_are_probabilities_and_history_order_matters_only_through_content(model):
    feats, item, cat, hist, hcat = _inputs()
    p, att = model(feats, item, cat, hist, hcat)
    assert p.shape == (6,) and att.shape == (6, 9) and ((p > 0) & (p < 1)).all()
    perm = torch.tensor([0, 1, 2, 5, 3, 8, 4, 7, 6])  # permute valid positions only
    p2, _ = model(feats, item, cat, hist[:, perm], hcat[:, perm])
    torch.testing.assert_close(p, p2, rtol=1e-5, atol=1e-6)  # pooling is a (weighted) sum


def test_decomposed_first_layer_equals_the_paper_formula():
    torch.manual_seed(0)
    unit = LocalActivationUnit(6, (8, 4), "prelu", heads=1).eval()
    q, k = torch.randn(3, 6), torch.randn(3, 5, 6)
    qe = q.unsqueeze(1).expand_as(k)
    ref = unit.out(unit.rest(unit.first_act(unit.first(torch.cat([qe, k, qe - k, qe * k], -1)))))
    torch.testing.assert_close(unit(q, k), ref, rtol=1e-5, atol=1e-5)


def test_dice_uses_batch_statistics_in_training_and_running_ones_in_eval():
    dice = Dice(3)
    x = torch.randn(200, 3) * 4 + 2
    dice.train()
    out = dice(x)
    assert out.shape == x.shape
    assert torch.allclose(dice.running_mean, 0.1 * x.mean(0), atol=1e-4)
    dice.eval()
    y = dice(torch.zeros(1, 3))
    assert torch.equal(y, torch.zeros(1, 3))  # alpha = 0 and x = 0


def test_heads_must_divide_the_key_size():
    with pytest.raises(ValueError):
        DIN(DINConfig(10, 3, embedding_dim=6, attention_heads=5))


def test_metrics_against_hand_computed_values():
    y = np.array([1, 0, 1, 0, 1, 0])
    p = np.array([0.9, 0.1, 0.4, 0.6, 0.5, 0.5])
    assert auc(y, p) == pytest.approx(5.5 / 9)  # one tie counts half
    users = np.array([1, 1, 2, 2, 3, 3])
    assert gauc(y, p, users) == pytest.approx((1 + 0 + 0.5) / 3)
    assert np.isnan(auc([1, 1], [0.2, 0.3]))
    assert gauc([1, 1, 0, 1], [0.1, 0.2, 0.3, 0.9], [1, 1, 2, 2]) == 1.0  # user 1 has one class: skipped
    assert log_loss([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert rela_impr(0.75, 0.7) == pytest.approx(25.0)
    assert evaluate_scores(y, p, users).to_dict()["samples"] == 6


def test_mini_batch_aware_penalty_counts_each_used_row_once_over_its_frequency():
    from deepseek_apps.apps.recommender.train import _inverse_counts, _mba_penalty

    torch.manual_seed(0)
    m = DIN(DINConfig(9, 3))
    item, cat = torch.tensor([1, 1, 2]), torch.tensor([1, 1, 2])
    hist, hcat = torch.tensor([[0, 2, 3]] * 3), torch.tensor([[0, 2, 3]] * 3)
    inv_item = _inverse_counts(torch.tensor([1, 1, 2, 3, 3, 3]), 10)
    inv_cat = _inverse_counts(torch.tensor([1, 2, 3]), 4)
    got = _mba_penalty(m, item, hist, cat, hcat, inv_item, inv_cat)
    w, c = m.item_emb.weight, m.cat_emb.weight
    want = (w[1].pow(2).sum() / 2 + w[2].pow(2).sum() / 1 + w[3].pow(2).sum() / 3) + sum(
        c[j].pow(2).sum() for j in (1, 2, 3)
    )
    torch.testing.assert_close(got, want)
    got.backward()
    assert m.item_emb.weight.grad[4:].abs().sum() == 0  # rows not in the batch are not regularised
