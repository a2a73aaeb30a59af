"""VideoReward: a Qwen2-VL backbone read at special reward tokens by a linear head.

Each dimension d has a token ``<|d_reward|>`` in the text. The final hidden states
(after the final norm) at those positions, ``h: (B, n, H)``, go through a bias-free
``Linear(H, n)``; token i is read by head row i, the diagonal of the ``(B, n, n)``
readout (REFERENCE.md §2). In ``shared`` mode one token is read by all n rows.

Position ids are a property of how a model was trained, so they are saved with it:

* ``mrope``: Qwen2-VL's 3-D multimodal positions (time, height, width for video tokens),
  what vidalign's own models train with;
* ``plain``: text positions 0…L−1 on all three rotary axes. The release's reward model
  calls its language model without position ids, so released checkpoints were trained
  and must be scored this way. Positions count real tokens only, so padding on either
  side leaves a sequence's rewards unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import Tensor, nn
from transformers import Qwen2VLForConditionalGeneration

from vidalign.reward.template import TokenMode

PositionIds = Literal["mrope", "plain"]
POSITION_IDS: tuple[str, ...] = get_args(PositionIds)


def plain_position_ids(attention_mask: Tensor) -> Tensor:
    """Text positions of each real token on all three M-RoPE axes.

    attention_mask: (B, L) → (3, B, L) long; padding positions get 0.
    """
    pos = (attention_mask.long().cumsum(-1) - 1).masked_fill_(attention_mask == 0, 0)
    return pos.unsqueeze(0).expand(3, -1, -1)


class RewardInputError(ValueError):
    """A batch does not hold each reward token exactly once per sequence."""


class VideoRewardModel(nn.Module):
    """Multi-dimensional reward model.

    Args:
        backbone: a ``Qwen2VLForConditionalGeneration`` whose vocabulary holds the tokens.
        dims: dimension names, one head row each.
        reward_token_ids: ids of the read tokens: n ids (separate) or 1 id (shared).
        token_mode: ``separate`` or ``shared``.
        position_ids: ``mrope`` (3-D multimodal) or ``plain`` (0…L−1, released models).
    """

    def __init__(
        self,
        backbone: Qwen2VLForConditionalGeneration,
        dims: Sequence[str],
        reward_token_ids: Sequence[int],
        token_mode: TokenMode = "separate",
        position_ids: PositionIds = "mrope",
    ) -> None:
        super().__init__()
        if position_ids not in POSITION_IDS:
            raise ValueError(f"position_ids must be one of {POSITION_IDS}, got {position_ids!r}")
        self.dims = tuple(dims)
        self.token_mode = token_mode
        self.position_ids = position_ids
        expected = len(self.dims) if token_mode == "separate" else 1
        if len(reward_token_ids) != expected:
            raise ValueError(
                f"{token_mode} mode needs {expected} reward token id(s), got {list(reward_token_ids)}"
            )
        vocab = backbone.get_input_embeddings().num_embeddings
        if max(reward_token_ids) >= vocab:
            raise ValueError(
                f"reward token ids {list(reward_token_ids)} exceed the vocabulary {vocab}"
            )
        self.backbone = backbone
        self.register_buffer(
            "reward_token_ids",
            torch.tensor(list(reward_token_ids), dtype=torch.long),
            persistent=False,
        )
        hidden = backbone.config.text_config.hidden_size
        self.head = nn.Linear(hidden, len(self.dims), bias=False)
        nn.init.normal_(self.head.weight, std=hidden**-0.5)

    @property
    def hidden_size(self) -> int:
        return self.head.in_features

    def reward_positions(self, input_ids: Tensor) -> Tensor:
        """Index of each reward token in each sequence. input_ids: (B, L) → (B, k).

        Raises:
            RewardInputError: a token is missing or repeated in some sequence.
        """
        hits = input_ids.unsqueeze(-1) == self.reward_token_ids.to(input_ids.device)  # (B, L, k)
        counts = hits.sum(dim=1)  # (B, k)
        if not (counts == 1).all():
            bad = (counts != 1).nonzero()[0].tolist()
            raise RewardInputError(
                f"sequence {bad[0]} holds reward token id {int(self.reward_token_ids[bad[1]])} "
                f"{int(counts[bad[0], bad[1]])} times; each must appear exactly once"
            )
        return hits.float().argmax(dim=1)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        pixel_values_videos: Tensor,
        video_grid_thw: Tensor,
        mm_token_type_ids: Tensor,
    ) -> Tensor:
        """Rewards of each sequence.

        Args:
            input_ids, attention_mask, mm_token_type_ids: (B, L), padded either side.
            pixel_values_videos: (P, C·t·p·p) patches of all B clips, concatenated.
            video_grid_thw: (B, 3) patch grid of each clip.

        Returns:
            (B, n) raw rewards, column j for ``dims[j]``.
        """
        pos = self.reward_positions(input_ids)  # (B, k)
        out = self.backbone.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            pixel_values_videos=pixel_values_videos,
            video_grid_thw=video_grid_thw,
            mm_token_type_ids=mm_token_type_ids,
            position_ids=plain_position_ids(attention_mask)
            if self.position_ids == "plain"
            else None,
            use_cache=False,
        )
        hidden = out.last_hidden_state  # (B, L, H), after the final norm
        idx = pos.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        h = hidden.gather(1, idx)  # (B, k, H)
        readout = self.head(h.to(self.head.weight.dtype))  # (B, k, n)
        if self.token_mode == "shared":
            return readout[:, 0, :]
        return torch.diagonal(readout, dim1=1, dim2=2)  # token i read by row i
