"""Latent reward model: copied trunk, pooling, heads, folder round trip, loud errors."""

import json

import pytest
import torch

from guidance_testdata import PROMPTS, tiny_generator, tiny_reward
from vidalign.guidance import (
    LatentRewardError,
    from_generator,
    load_latent_reward,
    save_latent_reward,
)


def inputs(gen, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_t = torch.randn((batch, *gen.latent_shape()), generator=g)
    t = torch.rand(batch, generator=g)
    cond = gen.encode_text((PROMPTS * batch)[:batch])
    return x_t, t, cond


def test_trunk_reproduces_the_generators_first_blocks():
    gen = tiny_generator(num_layers=2)
    rm = tiny_reward(gen, num_blocks=1)
    x_t, t, cond = inputs(gen)
    seen = {}
    gen.transformer.blocks[0].register_forward_hook(lambda m, i, o: seen.__setitem__("gen", o))
    rm.norm.register_forward_hook(lambda m, i, o: seen.__setitem__("rm", i[0]))
    with torch.no_grad():
        gen(x_t, t, cond)
        r = rm(x_t, t, cond)
    assert torch.allclose(seen["gen"], seen["rm"], atol=1e-6)
    assert r.shape == (2, 3)
    # weights are copies: training the RM leaves the generator alone
    before = gen.transformer.blocks[0].ffn.net[0].proj.weight.clone()
    with torch.no_grad():
        rm.blocks[0].ffn.net[0].proj.weight.add_(1.0)
    assert torch.equal(gen.transformer.blocks[0].ffn.net[0].proj.weight, before)


def test_rewards_depend_on_x_t_t_and_prompt_and_any_dims_work():
    gen = tiny_generator()
    rm = tiny_reward(gen, dims=["sharp", "smooth"], pooling="mean")
    x_t, t, cond = inputs(gen)
    with torch.no_grad():
        r = rm(x_t, t, cond)
        assert r.shape == (2, 2)
        assert not torch.allclose(r, rm(x_t * 0.5, t, cond))
        assert not torch.allclose(r, rm(x_t, 1 - t, cond))
        assert not torch.allclose(r, rm(x_t, t, cond.flip(0)))
        # each sample's reward depends on that sample only
        assert torch.allclose(rm(x_t[:1], t[:1], cond[:1]), r[:1], atol=1e-5)


def test_bad_arguments_fail_loudly():
    gen = tiny_generator(num_layers=2)
    with pytest.raises(LatentRewardError, match=r"num_blocks must be in \[1, 2\]"):
        from_generator(gen.transformer, 3, ["VQ"])
    with pytest.raises(LatentRewardError, match="repeat"):
        from_generator(gen.transformer, 1, ["VQ", "VQ"])
    with pytest.raises(LatentRewardError, match="at least one"):
        from_generator(gen.transformer, 1, [])
    rm = tiny_reward(gen)
    x_t, t, cond = inputs(gen)
    with pytest.raises(LatentRewardError, match="expected x_t of shape"):
        rm(x_t[:, :2], t, cond)
    with pytest.raises(LatentRewardError, match="does not divide into patches"):
        rm(x_t[..., :15], t, cond)


def test_folder_round_trip_and_errors(tmp_path):
    gen = tiny_generator()
    rm = tiny_reward(gen)
    save_latent_reward(rm, tmp_path / "rm", extra={"variant": "noised"})
    back = load_latent_reward(tmp_path / "rm", for_guidance=True)
    x_t, t, cond = inputs(gen)
    with torch.no_grad():
        assert torch.equal(rm(x_t, t, cond), back(x_t, t, cond))
    assert back.dims == ["VQ", "MQ", "TA"] and not any(p.requires_grad for p in back.parameters())
    meta = json.loads((tmp_path / "rm" / "latent_reward.json").read_text())
    assert meta["extra"] == {"variant": "noised"} and meta["num_blocks"] == 1
    meta["num_blocks"] = 2
    (tmp_path / "rm" / "latent_reward.json").write_text(json.dumps(meta))
    with pytest.raises(LatentRewardError, match="weights do not match"):
        load_latent_reward(tmp_path / "rm")
    with pytest.raises(LatentRewardError, match="not a latent reward model folder"):
        load_latent_reward(tmp_path)
