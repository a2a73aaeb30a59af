"""Builders: a reward model and its processor from a tiny spec or a local Qwen2-VL folder."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import torch
from tokenizers import Tokenizer
from transformers import (
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
)

from vidalign.errors import VidalignError
from vidalign.reward.model import PositionIds, VideoRewardModel
from vidalign.reward.processing import RewardProcessor, SamplingContract, SecondResize
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


_PIPELINE_PARTS = ("normalizer", "pre_tokenizer", "model", "decoder")
_PROBE = " A probe: 10 cats, 2x  faster!\n\tÉtat d'âme… <|im_end|>"


def load_saved_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """The tokenizer of a model folder exactly as it was saved: its ``tokenizer.json``.

    A tokenizer class named in ``tokenizer_config.json`` may rebuild the pipeline from
    vocab and merges with pre-tokenisation of its own (transformers' ``Qwen2Tokenizer``
    does), which moves every token after the first difference. Only the saved pipeline
    is used: it is checked part by part against the file, and on a probe text against
    the ``tokenizers`` library reading the file directly (post-processing included).

    Raises:
        ModelLoadError: no ``tokenizer.json``, or the loaded pipeline differs from it.
    """
    path = Path(path)
    file = path / "tokenizer.json"
    if not file.is_file():
        raise ModelLoadError(
            f"{path}: no tokenizer.json; the tokenizer cannot be loaded exactly as saved "
            "(vocab and merges alone do not fix its pre-tokenisation)"
        )
    try:
        saved = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelLoadError(f"{file}: not valid JSON ({err})") from None
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
    loaded = json.loads(tokenizer.backend_tokenizer.to_str())
    for part in _PIPELINE_PARTS:
        if saved.get(part) != loaded.get(part):
            raise ModelLoadError(
                f"{file}: field {part!r} is not what the loaded tokenizer uses; refusing a "
                "tokenizer that would not tokenise as the model was trained"
            )
    direct = Tokenizer.from_file(str(file)).encode(_PROBE).ids
    if tokenizer(_PROBE)["input_ids"] != direct:
        raise ModelLoadError(
            f"{file}: the loaded tokenizer encodes a probe text differently from the file's "
            "own pipeline; refusing it"
        )
    return tokenizer


def from_base(
    path: str | Path,
    *,
    dims: Sequence[str],
    contract: SamplingContract,
    template: RewardTemplate,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    processor_bounds: Literal["contract", "base"] = "contract",
    position_ids: PositionIds = "mrope",
    second_resize: SecondResize = "torchvision",
) -> tuple[VideoRewardModel, RewardProcessor]:
    """A reward model on a local Qwen2-VL checkpoint folder (never the hub).

    The tokenizer is the folder's own ``tokenizer.json`` (``load_saved_tokenizer``). The
    reward tokens are added to it and the embedding matrix grows to fit; new rows start
    at the mean of the old ones (transformers' resize).

    Args:
        processor_bounds: ``contract`` sets the processor's pixel bounds to the contract's
            (so stage 2 leaves the reader's frames as they are); ``base`` keeps the
            folder's ``preprocessor_config.json`` bounds, as the release does.
        position_ids, second_resize: see ``VideoRewardModel`` and ``RewardProcessor``.
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path}: not a local Qwen2-VL folder (no config.json)")
    check_weights_folder(path)
    tokenizer = load_saved_tokenizer(path)
    processor = Qwen2VLProcessor.from_pretrained(
        str(path), local_files_only=True, tokenizer=tokenizer
    )
    backbone = Qwen2VLForConditionalGeneration.from_pretrained(
        str(path), dtype=dtype, local_files_only=True
    )
    token_ids = add_reward_tokens(processor.tokenizer, template.tokens)
    if len(processor.tokenizer) > backbone.get_input_embeddings().num_embeddings:
        backbone.resize_token_embeddings(len(processor.tokenizer))
    if processor_bounds == "contract":
        lo, hi = contract.min_pixels, contract.max_pixels
        vp = processor.video_processor
        if hi is not None:
            vp.size["longest_edge"] = hi
        if lo is not None:
            vp.size["shortest_edge"] = lo
    elif processor_bounds != "base":
        raise ValueError(f"processor_bounds must be contract or base, got {processor_bounds!r}")
    torch.manual_seed(seed)
    model = VideoRewardModel(backbone, dims, token_ids, template.token_mode, position_ids)
    return model, RewardProcessor(processor, template, contract, second_resize)
