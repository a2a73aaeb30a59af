"""Builders: a reward model and its processor from a tiny spec or a local Qwen2-VL folder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from transformers import (
    PreTrainedTokenizerBase,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
)

from vidalign.errors import VidalignError
from vidalign.reward.model import VideoRewardModel
from vidalign.reward.processing import RewardProcessor, SamplingContract
from vidalign.reward.template import RewardTemplate
from vidalign.reward.tiny import TinyQwen2VLSpec, build_tiny_backbone
from vidalign.reward.tokenizer import CHAT_TEMPLATE, add_reward_tokens, build_tiny_tokenizer
from vidalign.weights import check_weights_folder


class ModelLoadError(VidalignError):
    """A model folder is missing, incomplete or inconsistent."""


def make_processor(
    tokenizer: PreTrainedTokenizerBase, spec: TinyQwen2VLSpec, contract: SamplingContract
) -> Qwen2VLProcessor:
    """A Qwen2-VL processor whose pixel bounds follow ``contract``.

    Small clips must not be scaled up (REFERENCE.md §2), so the processor's lower bound is
    the contract's ``min_pixels`` or, when unset, one merged token's area.
    """
    factor = spec.patch_size * spec.merge_size
    lo = contract.min_pixels or factor * factor
    hi = contract.max_pixels or 448 * 448
    common = {
        "min_pixels": lo,
        "max_pixels": hi,
        "patch_size": spec.patch_size,
        "temporal_patch_size": spec.temporal_patch_size,
        "merge_size": spec.merge_size,
    }
    return Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**common, cap_pixels_per_frame=False),
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny(
    *,
    dims: Sequence[str],
    spec: TinyQwen2VLSpec,
    contract: SamplingContract,
    template: RewardTemplate,
    corpus: Iterable[str] = (),
    padding_side: str = "right",
    seed: int = 0,
) -> tuple[VideoRewardModel, RewardProcessor]:
    """A from-scratch tiny reward model, its locally trained tokenizer and processor."""
    tokenizer = build_tiny_tokenizer(corpus, padding_side=padding_side)
    token_ids = add_reward_tokens(tokenizer, template.tokens)
    backbone = build_tiny_backbone(tokenizer, spec, seed=seed)
    model = VideoRewardModel(backbone, dims, token_ids, template.token_mode)
    processor = make_processor(tokenizer, spec, contract)
    return model, RewardProcessor(processor, template, contract)


def from_base(
    path: str | Path,
    *,
    dims: Sequence[str],
    contract: SamplingContract,
    template: RewardTemplate,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> tuple[VideoRewardModel, RewardProcessor]:
    """A reward model on a local Qwen2-VL checkpoint folder (never the hub).

    The reward tokens are added to its tokenizer and the embedding matrix grows to fit;
    new rows start at the mean of the old ones (transformers' resize).
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path}: not a local Qwen2-VL folder (no config.json)")
    check_weights_folder(path)
    processor = Qwen2VLProcessor.from_pretrained(str(path), local_files_only=True)
    backbone = Qwen2VLForConditionalGeneration.from_pretrained(
        str(path), dtype=dtype, local_files_only=True
    )
    token_ids = add_reward_tokens(processor.tokenizer, template.tokens)
    if len(processor.tokenizer) > backbone.get_input_embeddings().num_embeddings:
        backbone.resize_token_embeddings(len(processor.tokenizer))
    lo, hi = contract.min_pixels, contract.max_pixels
    vp = processor.video_processor
    if hi is not None:
        vp.size["longest_edge"] = hi
    if lo is not None:
        vp.size["shortest_edge"] = lo
    torch.manual_seed(seed)
    model = VideoRewardModel(backbone, dims, token_ids, template.token_mode)
    return model, RewardProcessor(processor, template, contract)
