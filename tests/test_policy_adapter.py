"""Generator adapter: forward on tiny configs, pixel codec, text cache, folder round trips."""

import json

import pytest
import torch

from vidalign.policy import GeneratorError, SamplingDefaults, load_generator, save_generator
from vidalign.policy.adapter import coordinate_grid
from vidalign.policy.latent import PixelLatent
from vidalign.policy.tiny import build_pixel_generator, save_tiny_wan_folder

PROMPTS = ["a red circle moves left", "a blue square moves up on a dark green background"]


def tiny_generator(seed: int = 0):
    defaults = SamplingDefaults(num_frames=4, height=16, width=16, fps=8, steps=2)
    return build_pixel_generator(
        PROMPTS, defaults, num_layers=1, num_heads=2, head_dim=16, ffn_dim=32, text_dim=16,
        text_layers=1, text_heads=2, max_sequence_length=16, seed=seed,
    )  # fmt: skip


def test_forward_shapes_and_time_conditioning():
    gen = tiny_generator()
    assert gen.latent_shape() == (3, 4, 16, 16)
    x = torch.randn(2, *gen.latent_shape())
    cond = gen.encode_text(PROMPTS)
    assert cond.shape == (2, 16, 16)
    v = gen(x, torch.tensor([0.2, 0.8]), cond)
    assert v.shape == x.shape and v.dtype == torch.float32 and torch.isfinite(v).all()
    v_other_t = gen(x, torch.tensor([0.9, 0.1]), cond)
    assert not torch.allclose(v, v_other_t)  # t reaches the network
    v_other_text = gen(x, torch.tensor([0.2, 0.8]), cond.flip(0))
    assert not torch.allclose(v, v_other_text)  # so does the prompt


def test_sample_prediction_is_turned_into_a_velocity():
    gen = tiny_generator()
    assert gen.prediction == "sample"  # the synthetic world's default
    x = torch.randn(3, *gen.latent_shape())
    t = torch.tensor([0.0, 0.3, 1.0])
    cond = gen.encode_text([PROMPTS[0]] * 3)
    x_in = torch.cat([x, coordinate_grid(x)], dim=1)  # + (frame, row, column) channels
    raw = gen.transformer(
        hidden_states=x_in, timestep=t * 1000, encoder_hidden_states=cond, return_dict=False
    )[0]  # the clean-clip estimate
    v = gen(x, t, cond)
    # v = (x_t - x0_hat) / max(t, min_t): t = 0 uses the floor 0.05; at t = 1, v = x_1 - x0_hat
    expected = torch.stack([(x[0] - raw[0]) / 0.05, (x[1] - raw[1]) / 0.3, x[2] - raw[2]])
    torch.testing.assert_close(v, expected)
    from vidalign.flow import x0_from_velocity

    torch.testing.assert_close(x0_from_velocity(x[1:], v[1:], t[1:]), raw[1:])
    gen.prediction = "velocity"
    torch.testing.assert_close(gen(x, t, cond), raw)
    with pytest.raises(GeneratorError, match="prediction"):
        type(gen)(gen.transformer, gen.latent, gen.text, gen.defaults, prediction="noise")


def test_coordinate_channels_give_absolute_positions():
    x = torch.zeros(2, 3, 4, 5, 6)
    grid = coordinate_grid(x)
    assert grid.shape == (2, 3, 4, 5, 6)
    assert torch.equal(grid[0, 0, :, 0, 0], torch.linspace(-1, 1, 4))  # frame
    assert torch.equal(grid[0, 1, 0, :, 0], torch.linspace(-1, 1, 5))  # row
    assert torch.equal(grid[1, 2, 0, 0, :], torch.linspace(-1, 1, 6))  # column
    gen = tiny_generator()
    assert gen.coord_channels == 3 and gen.transformer.config.in_channels == 6
    # A clip that is the same everywhere gives every token the same input, and rotary
    # embeddings alone then give every patch the same output; the coordinates tell them apart.
    x = torch.zeros(1, *gen.latent_shape())
    cond = gen.encode_text(PROMPTS[:1])
    v = gen(x, torch.tensor([0.5]), cond)
    first, last = v[..., :2, :4, :4], v[..., -2:, -4:, -4:]  # two patches at opposite corners
    assert (first - last).abs().max() > 1e-3
    with torch.no_grad():
        gen.transformer.patch_embedding.weight[:, 3:] = 0  # the same model, blind to position
    v = gen(x, torch.tensor([0.5]), cond)
    torch.testing.assert_close(v[..., :2, :4, :4], v[..., -2:, -4:, -4:])
    with pytest.raises(GeneratorError, match="coord_channels"):
        type(gen)(gen.transformer, gen.latent, gen.text, gen.defaults, coord_channels=2)


def test_pixel_codec_round_trip_and_layout():
    frames = torch.randint(0, 256, (2, 4, 3, 16, 16), dtype=torch.uint8)
    x0 = PixelLatent().encode(frames)
    assert x0.shape == (2, 3, 4, 16, 16) and x0.min() >= -1 and x0.max() <= 1
    assert x0[1, 2, 3, 5, 7] == frames[1, 3, 2, 5, 7].float() / 127.5 - 1
    assert torch.equal(PixelLatent().decode(x0), frames)
    floats = frames.float() / 255
    assert torch.allclose(PixelLatent().encode(floats), x0)
    with pytest.raises(GeneratorError, match=r"\(B, F, C, H, W\)"):
        PixelLatent().encode(frames[0])


def test_patch_grid_is_checked():
    gen = tiny_generator()
    with pytest.raises(GeneratorError, match="patches"):
        gen.latent_shape(num_frames=3)


def test_text_embeddings_cached_padded_and_empty_prompt():
    gen = tiny_generator()
    emb = gen.encode_text(["a red circle"])
    n_tokens = 4  # three words + </s>
    assert emb[0, n_tokens:].abs().sum() == 0 and emb[0, :n_tokens].abs().sum() > 0
    assert len(gen.text) == 1
    empty = gen.empty_cond
    assert empty.shape == (1, 16, 16) and empty[0, 1:].abs().sum() == 0
    gen.text.release_encoder()
    assert torch.equal(gen.encode_text(["a  red circle "]), emb)  # whitespace-cleaned hit
    with pytest.raises(GeneratorError, match="released"):
        gen.encode_text(["a green star"])
    with pytest.raises(GeneratorError, match=r"prompts\[1\]"):
        gen.encode_text(["ok", 3])


def test_text_cache_file_round_trip(tmp_path):
    gen = tiny_generator()
    gen.text.precompute(PROMPTS)
    gen.text.save_cache(tmp_path / "cache.safetensors")
    other = tiny_generator()
    other.text.release_encoder()
    other.text.load_cache(tmp_path / "cache.safetensors")
    assert torch.equal(other.encode_text(PROMPTS), gen.encode_text(PROMPTS))


def test_pixel_folder_round_trip(tmp_path):
    gen = tiny_generator()
    save_generator(gen, tmp_path / "gen", extra={"note": "test"})
    meta = json.loads((tmp_path / "gen" / "vidalign_generator.json").read_text())
    assert meta["latent"]["type"] == "pixel" and meta["sampling"]["num_frames"] == 4
    assert meta["prediction"] == {"type": "sample", "min_t": 0.05}
    assert meta["coord_channels"] == 3
    loaded = load_generator(tmp_path / "gen")
    assert loaded.defaults == gen.defaults
    assert (loaded.prediction, loaded.min_t, loaded.coord_channels) == ("sample", 0.05, 3)
    x = torch.randn(1, *gen.latent_shape())
    t = torch.tensor([0.5])
    assert torch.equal(
        loaded(x, t, loaded.encode_text(PROMPTS[:1])), gen(x, t, gen.encode_text(PROMPTS[:1]))
    )


def test_tiny_wan_folder_round_trip(tmp_path):
    from diffusers import WanPipeline

    root = save_tiny_wan_folder(tmp_path / "wan")
    WanPipeline.from_pretrained(root)  # the layout is a real diffusers Wan folder
    gen = load_generator(root)
    assert gen.defaults.shift == 3.0  # read from scheduler/
    assert gen.text.max_sequence_length == 512
    frames = torch.randint(0, 256, (1, 5, 3, 16, 16), dtype=torch.uint8)
    x0 = gen.encode(frames)
    assert x0.shape == (1, 16, 2, 2, 2) == (1, *gen.latent_shape(5, 16, 16))
    v = gen(x0, torch.tensor([0.5]), gen.encode_text(["a red circle"]))
    assert v.shape == x0.shape and torch.isfinite(v).all()
    assert gen.decode(x0).shape == (1, 5, 3, 16, 16)
    with pytest.raises(GeneratorError, match="1 \\+ k"):
        gen.encode(frames[:, :4])


def test_missing_folder_parts_are_named(tmp_path):
    with pytest.raises(GeneratorError, match="not found"):
        load_generator(tmp_path / "nope")
    (tmp_path / "half" / "transformer").mkdir(parents=True)
    with pytest.raises(GeneratorError, match="text_encoder"):
        load_generator(tmp_path / "half")
