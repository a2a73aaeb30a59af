"""Generator adapter: forward on tiny configs, pixel codec, text cache, folder round trips."""

import json

import pytest
import torch

from vidalign.policy import GeneratorError, SamplingDefaults, load_generator, save_generator
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
    loaded = load_generator(tmp_path / "gen")
    assert loaded.defaults == gen.defaults
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
