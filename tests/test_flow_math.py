"""Rectified-flow maths against analytic answers."""

import math

import pytest
import torch

from vidalign.flow import (
    classifier_free_guidance,
    euler_sample,
    flow_matching_loss,
    interpolate,
    noise_from_velocity,
    sample_logit_normal,
    sample_path,
    sample_time,
    shift_time,
    target_velocity,
    time_grid,
    x0_from_velocity,
)


def test_interpolation_hand_worked():
    x0 = torch.tensor([[2.0, -1.0]])
    noise = torch.tensor([[0.0, 3.0]])
    t = torch.tensor([0.25])
    # 0.75·2 + 0.25·0 = 1.5 ; 0.75·(-1) + 0.25·3 = 0
    assert torch.allclose(interpolate(x0, noise, t), torch.tensor([[1.5, 0.0]]))
    assert torch.equal(interpolate(x0, noise, torch.zeros(1)), x0)
    assert torch.equal(interpolate(x0, noise, torch.ones(1)), noise)
    assert torch.equal(target_velocity(x0, noise), torch.tensor([[-2.0, 4.0]]))


def test_end_points_recovered_from_x_t_and_v():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 2, 4, 5, 5, generator=g)
    s = sample_path(x0, torch.tensor([0.1, 0.5, 0.9]), generator=g)
    assert torch.allclose(x0_from_velocity(s.x_t, s.v, s.t), x0, atol=1e-6)
    assert torch.allclose(noise_from_velocity(s.x_t, s.v, s.t), s.noise, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        interpolate(x0, s.noise, torch.tensor([0.5]))


def test_euler_integrates_the_straight_path_exactly():
    # The true velocity of the straight path is constant, so Euler is exact on any grid.
    x0 = torch.tensor([[1.0, -2.0, 0.5]])
    noise = torch.tensor([[0.3, 0.7, -1.1]])

    def model(x_t, t, cond):
        assert t.shape == (1,)
        return noise - x0

    for grid in (time_grid(1), time_grid(7), time_grid(5, shift=3.0)):
        assert torch.allclose(euler_sample(model, noise, None, grid), x0, atol=1e-6)


def test_euler_on_a_linear_field_converges_to_the_ode_solution():
    # dx/dt = x from t=1 to t=0 gives x(0) = x(1)·e^{-1}; Euler gives (1 - 1/n)^n.
    x1 = torch.tensor([[2.0]])
    out = euler_sample(lambda x, t, c: x, x1, None, time_grid(4))
    assert torch.allclose(out, x1 * (1 - 0.25) ** 4)
    fine = euler_sample(lambda x, t, c: x, x1, None, time_grid(2000))
    assert abs(fine.item() - 2.0 * math.exp(-1)) < 1e-3


def test_euler_rejects_an_increasing_grid():
    with pytest.raises(ValueError, match="decreasing"):
        euler_sample(lambda x, t, c: x, torch.zeros(1, 1), None, torch.tensor([0.0, 1.0]))


def test_shift_and_grid():
    t = torch.tensor([0.0, 0.5, 1.0])
    assert torch.allclose(shift_time(t, 3.0), torch.tensor([0.0, 0.75, 1.0]))  # 1.5 / 2
    assert torch.equal(shift_time(t, 1.0), t)
    grid = time_grid(4, shift=3.0)
    assert grid.shape == (5,) and grid[0] == 1 and grid[-1] == 0
    assert torch.allclose(grid[2], torch.tensor(0.75))


def test_time_sampling_distributions():
    g = torch.Generator().manual_seed(0)
    t = sample_logit_normal(20000, mean=1.0, std=0.5, generator=g)
    logits = torch.log(t / (1 - t))
    assert abs(logits.mean().item() - 1.0) < 0.02 and abs(logits.std().item() - 0.5) < 0.02
    u = sample_time(20000, "uniform", generator=g)
    assert u.min() >= 0 and u.max() <= 1 and abs(u.mean().item() - 0.5) < 0.01
    shifted = sample_time(20000, "uniform", shift=3.0, generator=g)
    assert shifted.mean() > 0.6  # the shift moves mass towards the noise end


def test_cfg_scale_one_is_the_conditional_model_and_formula_holds():
    def model(x_t, t, cond):
        return x_t * cond.view(-1, 1) + t.view(-1, 1)

    x = torch.randn(2, 3)
    t = torch.tensor([0.2, 0.7])
    cond = torch.tensor([2.0, -1.0])
    uncond = torch.tensor([0.5])
    assert torch.equal(classifier_free_guidance(model, 1.0, uncond)(x, t, cond), model(x, t, cond))
    v_c, v_u = model(x, t, cond), model(x, t, uncond.expand(2))
    guided = classifier_free_guidance(model, 4.0, uncond)(x, t, cond)
    assert torch.allclose(guided, v_u + 4.0 * (v_c - v_u), atol=1e-6)
    assert torch.allclose(classifier_free_guidance(model, 0.0, uncond)(x, t, cond), v_u)


def test_flow_matching_loss_per_sample():
    pred = torch.tensor([[1.0, 1.0], [0.0, 2.0]])
    target = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert torch.allclose(flow_matching_loss(pred, target), torch.tensor([0.5, 2.0]))


def test_flow_matching_loss_weights_each_element_before_the_mean():
    import torch

    from vidalign.flow import flow_matching_loss

    v_pred = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    v = torch.zeros(2, 2)
    weight = torch.tensor([[2.0, 1.0], [1.0, 1.0]])
    # by hand: (2·1 + 1·4) / 2 = 3 and (9 + 0) / 2 = 4.5; unweighted 2.5 and 4.5
    assert flow_matching_loss(v_pred, v, weight).tolist() == [3.0, 4.5]
    assert flow_matching_loss(v_pred, v).tolist() == [2.5, 4.5]
