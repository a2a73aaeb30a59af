"""Tiny Qwen2-VL configs: the real transformers architecture at synthetic-world scale."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import PreTrainedTokenizerBase, Qwen2VLConfig, Qwen2VLForConditionalGeneration

from vidalign.reward.tokenizer import IMAGE_PAD, VIDEO_PAD, VISION_END, VISION_START


@dataclass
class TinyQwen2VLSpec:
    """Sizes of a from-scratch Qwen2-VL (defaults: the test scale)."""

    hidden_size: int = field(default=64, metadata={"help": "language model width", "ge": 1})
    num_layers: int = field(default=2, metadata={"help": "language model decoder layers", "ge": 1})
    num_heads: int = field(
        default=4, metadata={"help": "attention heads (head dim % 8 == 0)", "ge": 1}
    )
    num_kv_heads: int = field(default=2, metadata={"help": "key/value heads (GQA)", "ge": 1})
    intermediate_size: int = field(default=128, metadata={"help": "language MLP width", "ge": 1})
    vision_depth: int = field(default=2, metadata={"help": "vision transformer blocks", "ge": 1})
    vision_embed_dim: int = field(
        default=32, metadata={"help": "vision transformer width", "ge": 1}
    )
    vision_heads: int = field(default=2, metadata={"help": "vision attention heads", "ge": 1})
    patch_size: int = field(default=14, metadata={"help": "vision patch side in pixels", "ge": 1})
    temporal_patch_size: int = field(
        default=2, metadata={"help": "frames per vision patch", "ge": 1}
    )
    merge_size: int = field(
        default=2, metadata={"help": "spatial merge of patches into tokens", "ge": 1}
    )
    patch_init: str = field(
        default="random",
        metadata={
            "help": "vision tower start: random; highpass (a quarter frame-change and half "
            "spatial high-pass patch filters, see init_highpass_patch_embed); or energy "
            "(those filters plus a first block that writes their magnitudes into a reserved "
            "quarter of the channels, see init_energy_vision)"
        },
    )


def _mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (t, h, w) like Qwen2-VL's [16, 24, 24]."""
    half = head_dim // 2
    hw = (half * 3) // 8
    return [half - 2 * hw, hw, hw]


def tiny_qwen2vl_config(tokenizer: PreTrainedTokenizerBase, spec: TinyQwen2VLSpec) -> Qwen2VLConfig:
    """A ``Qwen2VLConfig`` sized by ``spec`` whose vocabulary and marker ids match ``tokenizer``."""
    head_dim = spec.hidden_size // spec.num_heads
    if spec.hidden_size % spec.num_heads or head_dim % 8:
        raise ValueError(
            f"hidden_size {spec.hidden_size} / num_heads {spec.num_heads} must give a head "
            "dimension that is a multiple of 8 (M-RoPE splits it in three)"
        )
    ids = {
        t: tokenizer.convert_tokens_to_ids(t)
        for t in (VISION_START, VISION_END, VIDEO_PAD, IMAGE_PAD)
    }
    return Qwen2VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": spec.hidden_size,
            "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.num_layers,
            "num_attention_heads": spec.num_heads,
            "num_key_value_heads": spec.num_kv_heads,
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "mrope_section": _mrope_section(head_dim),
                "rope_theta": 10000.0,
            },
            "bos_token_id": None,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "depth": spec.vision_depth,
            "embed_dim": spec.vision_embed_dim,
            "hidden_size": spec.hidden_size,
            "num_heads": spec.vision_heads,
            "mlp_ratio": 2,
            "patch_size": spec.patch_size,
            "temporal_patch_size": spec.temporal_patch_size,
            "spatial_merge_size": spec.merge_size,
        },
        vision_start_token_id=ids[VISION_START],
        vision_end_token_id=ids[VISION_END],
        video_token_id=ids[VIDEO_PAD],
        image_token_id=ids[IMAGE_PAD],
    )


PATCH_INITS = ("random", "highpass", "energy")


def init_highpass_patch_embed(weight: torch.Tensor, *, seed: int = 0) -> None:
    """Overwrite a Conv3d patch embedding ``(E, C, T, p, p)`` with filters that see defects.

    A from-scratch vision tower starts with random filters, which mostly read a patch's mean
    colour; noise, blur, blocking and jitter live in pixel-level energy, which a linear
    embedding of a whole patch averages away, and minutes of training on the synthetic world's
    pairs did not find it (``configs/reward/synth_small.yaml`` records the measurement).
    Pre-trained vision towers start from edge and change detectors; this gives a tiny one
    the same start, at the scale of the random init:

    * the first quarter of the channels keep their random filters (colour and layout);
    * the second quarter read the change between the patch's frames (``w[:, :, 1] = -w[:, :, 0]``),
      so a still patch gives them exactly zero (with one frame per patch they stay random);
    * the rest read spatial high frequencies: random filters minus their 3x3 local mean,
      made zero-sum per frame and colour, so a flat patch gives them exactly zero.
    """
    e, c, t, p, _ = weight.shape
    g = torch.Generator().manual_seed(seed)
    scale = float(weight.detach().std())
    with torch.no_grad():
        out = weight.clone()
        q = e // 4
        if t > 1:
            r = torch.randn(q, c, p, p, generator=g)
            out[q : 2 * q] = 0.0
            out[q : 2 * q, :, 0] = r
            out[q : 2 * q, :, 1] = -r
        hp = torch.randn(e - 2 * q, c * t, p, p, generator=g)
        mean = torch.nn.functional.avg_pool2d(hp, 3, stride=1, padding=1, count_include_pad=False)
        hp = hp - mean
        hp = hp - hp.mean(dim=(-2, -1), keepdim=True)  # no response to flat patches
        out[2 * q :] = hp.view(e - 2 * q, c, t, p, p)
        for block in (out[q : 2 * q], out[2 * q :]):
            block.mul_(scale / float(block.std()))
        weight.copy_(out)


def init_energy_vision(visual: torch.nn.Module, *, seed: int = 0) -> None:
    """Start a Qwen2-VL vision tower with units that measure defect energy.

    The high-pass start gives filters whose outputs *are* noise, edges and frame change, but
    zero-mean ones: their first-order effect on any pooled feature is nil, so gradients find
    their magnitude only slowly (on the synthetic world, a tower regressing noise severity sat
    at zero correlation for hundreds of steps). This start adds the rectifier a CNN would
    have: with ``q = embed_dim / 4``,

    * the patch embedding is ``init_highpass_patch_embed``'s, but channels ``[q, 2q)`` read
      frame change, ``[2q, 3q)`` spatial high frequencies and ``[3q, 4q)`` start at zero;
    * the first block's MLP gets ``4q`` hidden units in ``+x / -x`` pairs over the ``2q``
      signed channels (QuickGELU(x) + QuickGELU(-x) = x tanh(0.85 x), about ``|x|``), and
      writes each two channels' magnitudes into one of the ``q`` reserved channels; its other
      hidden units keep their random weights but do not write there.

    Every later layer starts random, so pooled features depend on the energies to first
    order from step 0.
    """
    weight = visual.patch_embed.proj.weight
    e = weight.shape[0]
    q = e // 4
    mlp = visual.blocks[0].mlp
    if e % 4 or mlp.fc1.out_features < 4 * q:
        raise ValueError(
            f"energy start needs embed_dim % 4 == 0 and a first MLP of >= embed_dim units, got "
            f"embed_dim {e} and {mlp.fc1.out_features} units"
        )
    init_highpass_patch_embed(weight, seed=seed)
    with torch.no_grad():
        weight[3 * q :] = 0.0
        fc1, fc2 = mlp.fc1, mlp.fc2
        fc1.weight[: 4 * q] = 0.0
        fc1.bias[: 4 * q] = 0.0
        fc2.weight[:, : 4 * q] = 0.0
        fc2.weight[3 * q :] = 0.0
        fc2.bias[3 * q :] = 0.0
        for j, channel in enumerate(range(q, 3 * q)):
            fc1.weight[2 * j, channel] = 1.0
            fc1.weight[2 * j + 1, channel] = -1.0
            fc2.weight[3 * q + j // 2, 2 * j : 2 * j + 2] = 1.0


def freeze_vision_stem(visual: torch.nn.Module) -> None:
    """Keep a Qwen2-VL vision tower's stem fixed: its patch embedding and first block's MLP.

    These hold the ``energy`` start's filters and magnitude units. Trained along with the rest,
    they drift: on the synthetic world the frame-change filters of the start order 83 % of the
    strict MQ test pairs by how unevenly a clip changes from frame to frame, and after the
    base-VLM stages and fine-tuning (lr 1e-3, then 5e-4) only 74 %. Frozen, the fine-tuned
    reward model read MQ 82 % instead of 76 % (``configs/reward/synth_small.yaml``).
    """
    visual.patch_embed.requires_grad_(False)
    visual.blocks[0].mlp.requires_grad_(False)


def build_tiny_backbone(
    tokenizer: PreTrainedTokenizerBase, spec: TinyQwen2VLSpec, *, seed: int = 0
) -> Qwen2VLForConditionalGeneration:
    """A from-scratch Qwen2-VL of ``spec``'s sizes, its patch embedding started as
    ``spec.patch_init`` says. Weights are drawn from ``torch.manual_seed(seed)``."""
    if spec.patch_init not in PATCH_INITS:
        raise ValueError(f"tiny.patch_init must be one of {PATCH_INITS}, got {spec.patch_init!r}")
    config = tiny_qwen2vl_config(tokenizer, spec)
    torch.manual_seed(seed)
    backbone = Qwen2VLForConditionalGeneration(config)
    if spec.patch_init == "highpass":
        init_highpass_patch_embed(backbone.model.visual.patch_embed.proj.weight, seed=seed)
    elif spec.patch_init == "energy":
        init_energy_vision(backbone.model.visual, seed=seed)
    return backbone
