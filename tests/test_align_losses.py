"""Flow-DPO / Flow-RWR / SFT losses against hand-worked values."""

import math

import pytest
import torch

from vidalign.align.losses import (
    dpo_beta,
    flow_dpo_loss,
    flow_matching_loss,
    flow_rwr_loss,
    rwr_weights,
)


def _v(*vals):
    """A (B=len(vals), 1, 1, 1, 2) velocity tensor with both elements equal to each value."""
    return torch.tensor([[v, v] for v in vals], dtype=torch.float64).view(len(vals), 1, 1, 1, 2)


def test_identical_winner_and_loser_give_log2_and_zero_grad():
    pred = torch.randn(3, 2, 2, 4, 4, requires_grad=True)
    ref, target = torch.randn(3, 2, 2, 4, 4), torch.randn(3, 2, 2, 4, 4)
    # One batched forward: the same prediction serves as winner and loser.
    loss, stats = flow_dpo_loss(pred, pred, ref, ref, target, target, torch.full((3,), 100.0))
    assert torch.allclose(loss, torch.full((3,), math.log(2)))
    loss.sum().backward()
    assert torch.allclose(pred.grad, torch.zeros_like(pred.grad), atol=1e-7)
    assert torch.equal(stats.margin, torch.zeros(3))


def test_dpo_hand_worked_value():
    # Winner: policy error 0.04, reference 0.24 → w_diff = -0.2 (squared errors per element).
    # Loser: policy error 0.29, reference 0.09 → l_diff = +0.2.  margin = -(10/2)(-0.4) = 2.
    target = _v(0.0)
    pred_w, ref_w = _v(0.2), _v(math.sqrt(0.24))
    pred_l, ref_l = _v(math.sqrt(0.29)), _v(0.3)
    loss, stats = flow_dpo_loss(pred_w, pred_l, ref_w, ref_l, target, target, torch.tensor([10.0]))
    assert stats.w_diff.item() == pytest.approx(-0.2)
    assert stats.l_diff.item() == pytest.approx(0.2)
    assert stats.margin.item() == pytest.approx(2.0)
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-2.0))))  # 0.1269
    assert stats.acc.item() == 1.0
    anchored, same = flow_dpo_loss(
        pred_w, pred_l, ref_w, ref_l, target, target, torch.tensor([10.0]), sft_weight=0.5
    )
    assert anchored.item() == pytest.approx(0.1269280 + 0.5 * 0.04, abs=1e-6)  # 0.1469
    assert same.margin.item() == pytest.approx(2.0)  # the anchor leaves the DPO term alone


def test_beta_to_zero_gives_log2():
    pred_w, pred_l, ref_w, ref_l, tw, tl = (torch.randn(4, 1, 2, 3, 3) for _ in range(6))
    loss, _ = flow_dpo_loss(pred_w, pred_l, ref_w, ref_l, tw, tl, torch.full((4,), 1e-9))
    assert torch.allclose(loss, torch.full((4,), math.log(2)), atol=1e-6)


def test_loss_falls_when_policy_moves_toward_winner():
    target_w, target_l = torch.ones(1, 1, 1, 2, 2), -torch.ones(1, 1, 1, 2, 2)
    ref = torch.zeros(1, 1, 1, 2, 2)
    beta = torch.tensor([5.0])
    base, _ = flow_dpo_loss(ref, ref, ref, ref, target_w, target_l, beta)
    toward_w, _ = flow_dpo_loss(ref + 0.3, ref + 0.3, ref, ref, target_w, target_l, beta)
    toward_l, _ = flow_dpo_loss(ref - 0.3, ref - 0.3, ref, ref, target_w, target_l, beta)
    assert toward_w.item() < base.item() < toward_l.item()
    # and the gradient points the policy toward the winner's target
    pred = ref.clone().requires_grad_(True)
    loss, _ = flow_dpo_loss(pred, pred.detach(), ref, ref, target_w, target_l, beta)
    loss.sum().backward()
    assert (pred.grad < 0).all()  # gradient descent raises pred toward target_w = +1


def test_beta_schedules():
    t = torch.tensor([0.0, 0.5, 1.0])
    assert torch.equal(dpo_beta(100.0, t), torch.full((3,), 100.0))
    assert torch.allclose(dpo_beta(100.0, t, "one_minus_t_sq"), torch.tensor([100.0, 25.0, 0.0]))
    with pytest.raises(ValueError, match="schedule"):
        dpo_beta(1.0, t, "linear")


def test_rwr_equal_rewards_is_plain_flow_matching():
    pred, target = torch.randn(4, 2, 2, 3, 3), torch.randn(4, 2, 2, 3, 3)
    fm = flow_matching_loss(pred, target)
    for norm in ("batch", "global"):
        w = rwr_weights(torch.full((4,), 0.7), normalisation=norm, reward_mean=0.7)
        assert torch.allclose(w, torch.ones(4))
        loss, stats = flow_rwr_loss(pred, target, w)
        assert torch.allclose(loss, fm) and torch.equal(stats.weights, w)


def test_rwr_weights_hand_worked():
    r = torch.tensor([0.0, math.log(3.0)])
    # batch: 2 * softmax([0, log 3]) = 2 * [1/4, 3/4]
    assert torch.allclose(rwr_weights(r), torch.tensor([0.5, 1.5]))
    # global with mean 0, tau 1: exp(r)
    assert torch.allclose(rwr_weights(r, normalisation="global"), torch.tensor([1.0, 3.0]))
    # temperature 2 halves the log-weights
    assert torch.allclose(
        rwr_weights(r, temperature=2.0, normalisation="global"), torch.tensor([1.0, math.sqrt(3.0)])
    )
    with pytest.raises(ValueError, match="positive"):
        rwr_weights(r, temperature=0.0)


def test_dpo_anchor_pulls_the_winner_even_when_the_margin_is_saturated():
    # A margin of 1000 leaves no DPO gradient; the anchor still lowers the winner's error.
    target = _v(0.0)
    pred_w = _v(0.5).requires_grad_()
    loss, _ = flow_dpo_loss(pred_w, _v(5.0), _v(10.0), _v(0.0), target, target,
                            torch.tensor([100.0]), sft_weight=1.0)  # fmt: skip
    loss.sum().backward()
    assert pred_w.grad is not None and float(pred_w.grad.mean()) > 0  # descent lowers pred_w
    with pytest.raises(ValueError, match="sft_weight"):
        flow_dpo_loss(target, target, target, target, target, target, torch.ones(1),
                      sft_weight=-1.0)  # fmt: skip
