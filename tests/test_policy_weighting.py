"""Object-weighted pre-training loss: weights worked out by hand, the decay, the config check."""

import pytest
import torch

from vidalign.config import ConfigError
from vidalign.policy.weighting import object_weight_strength, object_weights


def test_object_pixels_weigh_one_plus_lambda_and_each_clip_averages_one():
    x0 = torch.full((2, 3, 2, 4, 4), -0.8)  # a dark background
    x0[0, :, :, 1, 1] = 0.6  # clip 0: one object pixel per frame (2 of 32 pixels)
    w = object_weights(x0, 3.0)
    assert w.shape == (2, 1, 2, 4, 4)
    # clip 0: raw weights 4 on 2 pixels, 1 on 30 -> mean 38/32; normalised 128/38 and 32/38
    torch.testing.assert_close(w[0, 0, :, 1, 1], torch.full((2,), 128 / 38))
    torch.testing.assert_close(w[0, 0, 0, 0, 0], torch.tensor(32 / 38))
    torch.testing.assert_close(w[1], torch.ones(1, 2, 4, 4))  # no object: plain loss
    torch.testing.assert_close(w.mean(dim=(1, 2, 3, 4)), torch.ones(2))
    faint = x0.clone()
    faint[0, 0, :, 2, 2] = -0.7  # 0.1 from the background: below the threshold
    assert object_weights(faint, 3.0)[0, 0, 0, 2, 2] == object_weights(faint, 3.0)[0, 0, 0, 0, 0]
    torch.testing.assert_close(object_weights(x0, 0.0), torch.ones(2, 1, 2, 4, 4))
    with pytest.raises(ValueError, match=">= 0"):
        object_weights(x0, -1.0)


def test_strength_decays_linearly_to_zero():
    assert object_weight_strength(0, 100, 10.0, 0.5) == 10.0
    assert object_weight_strength(25, 100, 10.0, 0.5) == 5.0
    assert object_weight_strength(50, 100, 10.0, 0.5) == 0.0
    assert object_weight_strength(90, 100, 10.0, 0.5) == 0.0
    assert object_weight_strength(0, 100, 0.0, 0.5) == 0.0


def test_weighted_pretraining_trains_on_the_weighted_error(tmp_path):
    from test_synth_generator_pretrain import tiny_cfg
    from vidalign.synth.generator_pretrain import pretrain

    def losses(name, *overrides):
        cfg = tiny_cfg(tmp_path / name, "steps=2", "save_every=100", *overrides)
        return [row["loss"] for row in pretrain(cfg).history]

    plain = losses("plain")
    weighted = losses("weighted", "object_weight=5.0")
    assert all(torch.isfinite(torch.tensor(weighted)))
    assert weighted[0] != plain[0]  # the weighted error is what is trained on
    # fully decayed from the start: exactly the plain clean-clip loss
    assert losses("decayed", "object_weight=5.0", "object_weight_until=0.0") == plain
    # the weights are per pixel, so they apply to the velocity error too
    velocity = losses("velocity", "loss_space=velocity")
    assert losses("velocity_weighted", "loss_space=velocity", "object_weight=5.0") != velocity
    with pytest.raises(ConfigError, match="object_weight"):  # refused where it enters
        tiny_cfg(tmp_path / "bad", "object_weight=-1.0")
