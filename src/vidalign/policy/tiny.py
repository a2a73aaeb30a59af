"""Tiny generator builders: the synthetic world's base model, and test folders.

Sizes are data, not code: the pre-training config passes them in. The defaults are the
measured CPU model of DESIGN.md (4 layers, 4 heads of 32, ffn 512, patch (2, 4, 4)).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from vidalign.policy.adapter import DEFAULT_MIN_T, Prediction, SamplingDefaults, WanAdapter
from vidalign.policy.latent import PixelLatent
from vidalign.policy.text import TextEmbedder, build_word_tokenizer, tiny_t5_encoder


def tiny_wan_transformer(
    *,
    in_channels: int = 3,
    out_channels: int | None = None,
    patch_size: tuple[int, int, int] = (2, 4, 4),
    num_layers: int = 4,
    num_heads: int = 4,
    head_dim: int = 32,
    ffn_dim: int = 512,
    text_dim: int = 64,
    freq_dim: int = 64,
    seed: int = 0,
):
    """A randomly initialised ``WanTransformer3DModel`` (float32) with the given sizes."""
    from diffusers import WanTransformer3DModel

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = WanTransformer3DModel(
            patch_size=tuple(patch_size),
            num_attention_heads=num_heads,
            attention_head_dim=head_dim,
            in_channels=in_channels,
            out_channels=out_channels or in_channels,
            text_dim=text_dim,
            freq_dim=freq_dim,
            ffn_dim=ffn_dim,
            num_layers=num_layers,
            rope_max_seq_len=64,
        )
    return model


def build_pixel_generator(
    vocabulary_texts: Iterable[str],
    defaults: SamplingDefaults,
    *,
    patch_size: tuple[int, int, int] = (2, 4, 4),
    num_layers: int = 4,
    num_heads: int = 4,
    head_dim: int = 32,
    ffn_dim: int = 512,
    text_dim: int = 64,
    text_layers: int = 2,
    text_heads: int = 4,
    max_sequence_length: int = 32,
    prediction: Prediction = "sample",
    min_t: float = DEFAULT_MIN_T,
    coord_channels: int = 3,
    seed: int = 0,
) -> WanAdapter:
    """A fresh pixel-space Wan generator with a word tokenizer over ``vocabulary_texts``.

    The text encoder is a random, frozen T5: its token embeddings already tell words apart, and
    the transformer's cross-attention learns to read them (as with a frozen UMT5 in Wan).
    """
    tokenizer = build_word_tokenizer(vocabulary_texts)
    encoder = tiny_t5_encoder(
        len(tokenizer), d_model=text_dim, num_layers=text_layers, num_heads=text_heads, seed=seed
    )
    transformer = tiny_wan_transformer(
        in_channels=3 + coord_channels,
        out_channels=3,
        patch_size=patch_size,
        num_layers=num_layers,
        num_heads=num_heads,
        head_dim=head_dim,
        ffn_dim=ffn_dim,
        text_dim=text_dim,
        seed=seed + 1,
    )
    text = TextEmbedder(tokenizer, encoder, max_sequence_length=max_sequence_length)
    return WanAdapter(
        transformer,
        PixelLatent(),
        text,
        defaults,
        prediction=prediction,
        min_t=min_t,
        coord_channels=coord_channels,
    )


def save_tiny_wan_folder(path: str | Path, *, seed: int = 0) -> Path:
    """Write a random tiny Wan2.1 folder in the diffusers layout, through ``WanPipeline``.

    It holds a 2-layer transformer on 16 latent channels, a tiny ``AutoencoderKLWan``, a tiny
    UMT5 encoder with a word tokenizer and a flow-match scheduler with shift 3. It exists to test
    the real-model code path (loading, VAE latents, LoRA files) without a download.
    """
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = build_word_tokenizer(["a red circle moves left on a dark blue background"])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        text_encoder = UMT5EncoderModel(
            UMT5Config(
                vocab_size=len(tokenizer),
                d_model=32,
                d_kv=8,
                d_ff=64,
                num_layers=1,
                num_heads=4,
                relative_attention_num_buckets=8,
                dropout_rate=0.0,
                is_encoder_decoder=False,
                use_cache=False,
            )
        )
    transformer = tiny_wan_transformer(
        in_channels=16,
        patch_size=(1, 2, 2),
        num_layers=2,
        num_heads=2,
        head_dim=12,
        ffn_dim=32,
        text_dim=32,
        freq_dim=32,
        seed=seed + 1,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    pipe = WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        transformer=transformer,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return Path(path)
