"""Flow-NRG wrapper: hand-worked shift, window, t-cap, w = 0, frozen weights, reward goes up."""

import math

import pytest
import torch

from guidance_testdata import PROMPTS, tiny_generator, tiny_reward
from vidalign.config import ConfigError, parse_weights
from vidalign.flow import euler_sample, time_grid
from vidalign.guidance import (
    GuidanceSettings,
    LatentRewardError,
    guidance_ratio,
    reward_guidance,
    weight_vector,
)
from vidalign.policy.sampling import sample_latents, sample_seed


class LinearReward:
    """r_d(x) = Σ a_d·x: the gradient of Σ_d λ_d r_d is Σ_d λ_d a_d everywhere."""

    def __init__(self, shape):
        self.dims = ["VQ", "MQ"]
        self.a = torch.stack([torch.full(shape, 2.0), torch.full(shape, -1.0)])
        self.calls = 0

    def __call__(self, x_t, t, cond):
        self.calls += 1
        return torch.einsum("b...,d...->bd", x_t, self.a)


def zero_velocity(x_t, t, cond):
    return torch.zeros_like(x_t)


def test_ratio_is_t_over_one_minus_t_capped():
    t = torch.tensor([0.0, 0.5, 0.75, 0.9, 1.0])
    assert guidance_ratio(t, 5.0).tolist() == pytest.approx([0.0, 1.0, 3.0, 5.0, 5.0])
    assert guidance_ratio(t, 100.0)[3].item() == pytest.approx(9.0)
    assert math.isinf(guidance_ratio(torch.tensor([1.0]), float("inf")).item())


def test_shift_matches_the_hand_worked_value():
    reward = LinearReward((1, 2, 2))
    s = GuidanceSettings(scale=0.5, weights={"VQ": 1.0, "MQ": 3.0})
    v = reward_guidance(zero_velocity, reward, s)(
        torch.zeros(2, 1, 2, 2), torch.tensor([0.5, 0.75]), None
    )
    # grad = 1·2 + 3·(−1) = −1; ṽ = 0 − w·ratio·grad = 0.5·ratio → 0.5 at t = .5, 1.5 at t = .75
    assert torch.allclose(v[0], torch.full((1, 2, 2), 0.5))
    assert torch.allclose(v[1], torch.full((1, 2, 2), 1.5))
    # no weights: λ = 1 for every dimension → grad = 1, ṽ = −0.5
    v = reward_guidance(zero_velocity, reward, GuidanceSettings(scale=0.5))(
        torch.zeros(1, 1, 2, 2), torch.tensor([0.5]), None
    )
    assert torch.allclose(v, torch.full((1, 1, 2, 2), -0.5))


def test_window_leaves_outside_steps_untouched_and_cap_keeps_t1_finite():
    reward = LinearReward((1, 2, 2))
    s = GuidanceSettings(scale=1.0, weights={"VQ": 1.0}, t_min=0.2, t_max=0.6)
    wrapped = reward_guidance(zero_velocity, reward, s)
    x = torch.zeros(3, 1, 2, 2)
    v = wrapped(x, torch.tensor([0.1, 0.5, 0.9]), None)
    assert torch.equal(v[0], torch.zeros(1, 2, 2)) and torch.equal(v[2], torch.zeros(1, 2, 2))
    assert torch.allclose(v[1], torch.full((1, 2, 2), -2.0))
    calls = reward.calls
    wrapped(x[:1], torch.tensor([0.9]), None)
    assert reward.calls == calls  # a step outside the window never calls the reward
    # at t = 1 the factor is the cap: −w·c·grad = −1·5·2
    capped = reward_guidance(
        zero_velocity, reward, GuidanceSettings(scale=1.0, weights={"VQ": 1.0})
    )
    assert torch.allclose(capped(x[:1], torch.ones(1), None), torch.full((1, 1, 2, 2), -10.0))
    uncapped = GuidanceSettings(scale=1.0, weights={"VQ": 1.0}, max_ratio=float("inf"))
    out = euler_sample(reward_guidance(zero_velocity, reward, uncapped), x, None, time_grid(4))
    assert not torch.isfinite(out).all()
    out = euler_sample(capped, x, None, time_grid(4))
    assert torch.isfinite(out).all()


def test_zero_scale_reproduces_unguided_sampling_exactly():
    gen = tiny_generator()
    rm = tiny_reward(gen)
    seeds = [sample_seed(0, i) for i in range(3)]
    plain = sample_latents(gen, PROMPTS, seeds, cfg=2.0)
    off = GuidanceSettings(scale=0.0, weights={"MQ": 1.0})
    assert reward_guidance(zero_velocity, rm, off) is zero_velocity
    same = sample_latents(
        gen, PROMPTS, seeds, cfg=2.0, velocity_wrapper=lambda m: reward_guidance(m, rm, off)
    )
    assert torch.equal(plain, same)
    # an empty window is also exactly unguided
    empty = GuidanceSettings(scale=5.0, t_min=0.0, t_max=0.0)
    grid_steps = 4  # grid 1, .75, .5, .25: no step has t = 0
    same = sample_latents(
        gen, PROMPTS, seeds, cfg=2.0, steps=grid_steps,
        velocity_wrapper=lambda m: reward_guidance(m, rm, empty),
    )  # fmt: skip
    assert torch.equal(plain, same)


def test_guidance_changes_no_weights_and_raises_the_latent_reward():
    gen = tiny_generator()
    rm = tiny_reward(gen)
    rm.requires_grad_(False).eval()
    gen_before = {k: v.clone() for k, v in gen.transformer.state_dict().items()}
    rm_before = {k: v.clone() for k, v in rm.state_dict().items()}
    seeds = [sample_seed(1, i) for i in range(6)]
    prompts = (PROMPTS * 2)[:6]
    s = GuidanceSettings(scale=2.0, weights={"MQ": 1.0})
    plain = sample_latents(gen, prompts, seeds, cfg=2.0)
    guided = sample_latents(
        gen, prompts, seeds, cfg=2.0, velocity_wrapper=lambda m: reward_guidance(m, rm, s)
    )
    for k, v in gen.transformer.state_dict().items():
        assert torch.equal(v, gen_before[k]), k
    for k, v in rm.state_dict().items():
        assert torch.equal(v, rm_before[k]), k
    assert all(p.grad is None for p in gen.transformer.parameters())
    assert all(p.grad is None for p in rm.parameters())
    with torch.no_grad():
        cond = gen.encode_text(prompts)
        zero = torch.zeros(6)
        r_plain = rm(plain, zero, cond)[:, 1]
        r_guided = rm(guided, zero, cond)[:, 1]
    assert (r_guided > r_plain).all(), (r_plain, r_guided)


def test_weights_parse_and_must_name_known_dimensions():
    assert parse_weights("VQ=0.5, MQ=1,TA=0") == {"VQ": 0.5, "MQ": 1.0, "TA": 0.0}
    assert weight_vector(["VQ", "MQ", "TA"], {"MQ": 2.0}).tolist() == [0.0, 2.0, 0.0]
    with pytest.raises(ConfigError, match="NAME=NUMBER"):
        parse_weights("VQ:1")
    with pytest.raises(LatentRewardError, match=r"\['XX'\]"):
        weight_vector(["VQ"], {"XX": 1.0})
    with pytest.raises(LatentRewardError, match="window"):
        GuidanceSettings(scale=1.0, t_min=0.8, t_max=0.2)
