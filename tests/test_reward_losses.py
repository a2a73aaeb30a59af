"""Reward losses against hand-worked values (REFERENCE.md §2)."""

import math

import pytest
import torch

from vidalign.reward.losses import batch_loss, bt_loss, btt_loss, regression_loss


def t(x):
    return torch.tensor(x, dtype=torch.float64)


def test_bt_hand_values_and_ties_ignored():
    # pair 0: label A, r_a - r_b = 0 -> log 2; pair 1: label B, r_a - r_b = -1 -> Δ = 1
    # -> log(1 + e^-1) = 0.31326; pair 2: tie -> unused.
    r_a, r_b = t([[0.0], [0.0], [5.0]]), t([[0.0], [1.0], [0.0]])
    per_sample, out = bt_loss(r_a, r_b, torch.tensor([[1], [-1], [0]]), dims=["VQ"])
    assert out.per_slot[:, 0].tolist() == pytest.approx([math.log(2), 0.31326168751822286, 0.0])
    assert per_sample.tolist() == out.per_slot[:, 0].tolist()  # n = 1
    assert out.used[:, 0].tolist() == [True, True, False]
    assert batch_loss(out).item() == pytest.approx((math.log(2) + 0.31326168751822286) / 3)  # B·n
    assert out.metrics["acc/VQ"] == pytest.approx(0.5)  # sign(0) misses, pair 1 right


def test_btt_hand_values():
    theta = 5.0
    # strict, Δ = 0 -> log(1 + θ) = log 6; tie at m = 0 -> 2 log 6 − log 24 = log 1.5
    _, out = btt_loss(t([[0.0, 0.0]]), t([[0.0, 0.0]]), torch.tensor([[1, 0]]), theta=theta)
    assert out.per_slot[0].tolist() == pytest.approx([math.log(6), math.log(1.5)])
    # strict with Δ = 2 (label B, m = −2): softplus(−(2 − log 5)) = log(1 + 5 e^−2)
    _, out = btt_loss(t([[0.0]]), t([[2.0]]), torch.tensor([[-1]]), theta=theta)
    assert out.per_slot.item() == pytest.approx(math.log(1 + 5 * math.exp(-2)))
    # a tie is a proper probability: P(A) + P(B) + P(tie) = 1 at any m
    m = 0.7
    p_a = 1 / (1 + theta * math.exp(-m))
    p_b = 1 / (1 + theta * math.exp(m))
    tie = btt_loss(t([[m]]), t([[0.0]]), torch.tensor([[0]]), theta=theta)[1].per_slot.item()
    assert p_a + p_b + math.exp(-tie) == pytest.approx(1.0)


def test_btt_pushes_ties_toward_zero_margin():
    for m0 in (-1.5, -0.2, 0.3, 2.0):
        r_a = t([[m0]]).requires_grad_()
        batch_loss(btt_loss(r_a, t([[0.0]]), torch.tensor([[0]]))[1]).backward()
        # gradient descent moves m against the gradient: toward 0
        assert math.copysign(1, -r_a.grad.item()) == -math.copysign(1, m0)
    r_a = t([[0.0]]).requires_grad_()
    batch_loss(btt_loss(r_a, t([[0.0]]), torch.tensor([[0]]))[1]).backward()
    assert r_a.grad.item() == pytest.approx(0.0, abs=1e-12)


def test_invalid_slots_are_masked_and_carry_no_gradient():
    r_a = t([[1.0, 2.0]]).requires_grad_()
    valid = torch.tensor([[True, False]])
    _, out = btt_loss(r_a, t([[0.0, 0.0]]), torch.tensor([[1, 1]]), valid, dims=["VQ", "TA"])
    batch_loss(out).backward()
    assert out.per_slot[0, 1] == 0 and r_a.grad[0, 1] == 0 and r_a.grad[0, 0] != 0
    assert "loss/TA" not in out.metrics
    with pytest.raises(ValueError, match="theta"):
        btt_loss(r_a, r_a, torch.tensor([[1, 1]]), theta=1.0)
    with pytest.raises(ValueError, match="shape"):
        bt_loss(t([[1.0]]), t([[1.0, 2.0]]), torch.tensor([[1]]))


def test_regression_hand_values_and_missing_scores():
    # (1 − 3)² + (0 − 0)² = 4; second dim has a missing score -> unused
    per_sample, out = regression_loss(
        t([[1.0, 9.0]]), t([[0.0, 9.0]]), t([[3.0, float("nan")]]), t([[0.0, 1.0]])
    )
    assert out.per_slot[0].tolist() == [4.0, 0.0]
    assert batch_loss(out).item() == pytest.approx(2.0)
    assert per_sample.tolist() == pytest.approx([2.0])
