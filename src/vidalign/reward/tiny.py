"""Tiny Qwen2-VL configs: the real transformers architecture at synthetic-world scale."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase, Qwen2VLConfig

from vidalign.reward.tokenizer import IMAGE_PAD, VIDEO_PAD, VISION_END, VISION_START


@dataclass
class TinyQwen2VLSpec:
    """Sizes of a from-scratch Qwen2-VL (defaults: the test scale)."""

    hidden_size: int = field(default=64, metadata={"help": "language model width"})
    num_layers: int = field(default=2, metadata={"help": "language model decoder layers"})
    num_heads: int = field(default=4, metadata={"help": "attention heads (head dim % 8 == 0)"})
    num_kv_heads: int = field(default=2, metadata={"help": "key/value heads (GQA)"})
    intermediate_size: int = field(default=128, metadata={"help": "language MLP width"})
    vision_depth: int = field(default=2, metadata={"help": "vision transformer blocks"})
    vision_embed_dim: int = field(default=32, metadata={"help": "vision transformer width"})
    vision_heads: int = field(default=2, metadata={"help": "vision attention heads"})
    patch_size: int = field(default=14, metadata={"help": "vision patch side in pixels"})
    temporal_patch_size: int = field(default=2, metadata={"help": "frames per vision patch"})
    merge_size: int = field(default=2, metadata={"help": "spatial merge of patches into tokens"})


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
