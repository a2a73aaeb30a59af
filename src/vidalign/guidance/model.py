"""The noise-aware latent reward model: the generator's first K blocks, a pooling layer, heads.

``r(x_t, t, y) -> (B, n)``, one reward per dimension, read from the same inputs as the
generator's velocity (REFERENCE.md §4, Flow-NRG): the latent ``x_t``, the time ``t`` and the
prompt's text embedding. The trunk reuses diffusers' Wan modules and is initialised by copying
the generator's weights:

    patch_embedding → rope → condition_embedder (time + text) → blocks[:K]
    → LayerNorm → pooling (attention with one query per dimension, or mean) → one head per dim

**Choice of K.** The paper never disclosed which layers it used. Early blocks of a flow
transformer already see the whole clip (global self-attention) and the prompt
(cross-attention), and they carry the coarse layout and motion the reward must judge. Cost: a
guided Euler step adds one forward of the K blocks on B samples plus a backward to ``x_t``
(about two forwards more), against the generator's L blocks on 2B samples under CFG, so
guided/unguided ≈ 1 + 3K/(2L). The default K = 1 of the synthetic world's 4 blocks gives
≈ 1.38 (``benchmarks/guidance.py``), inside the 1.6× budget; K = 2 gives ≈ 1.75. On a 30-block
Wan2.1-1.3B, K = 4-8 keeps the overhead at 1.2-1.4.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from vidalign.guidance.errors import LatentRewardError
from vidalign.policy.adapter import coordinate_grid

Pooling = Literal["attention", "mean"]
TIMESTEP_SCALE = 1000.0
"""Wan modules read t·1000, as ``vidalign.policy.adapter`` passes them."""

TRUNK_KEYS = (
    "patch_size",
    "num_attention_heads",
    "attention_head_dim",
    "in_channels",
    "text_dim",
    "freq_dim",
    "ffn_dim",
    "cross_attn_norm",
    "qk_norm",
    "eps",
    "added_kv_proj_dim",
    "rope_max_seq_len",
)
"""The ``WanTransformer3DModel`` config fields the trunk depends on (saved with the model)."""


def trunk_config(transformer_config: Any) -> dict[str, Any]:
    """The trunk's fields of a ``WanTransformer3DModel`` config (a FrozenDict or a dict)."""
    cfg = dict(transformer_config)
    if cfg.get("image_dim") is not None:
        raise LatentRewardError("image-conditioned Wan models (image_dim set) are not supported")
    missing = [k for k in TRUNK_KEYS if k not in cfg]
    if missing:
        raise LatentRewardError(f"transformer config lacks {missing}; is it a Wan transformer?")
    out = {k: cfg[k] for k in TRUNK_KEYS}
    out["patch_size"] = [int(p) for p in out["patch_size"]]
    return out


def check_dims(dims: Sequence[str]) -> list[str]:
    """Dimension names as a list: non-empty, unique, usable as module names."""
    dims = list(dims)
    if not dims:
        raise LatentRewardError("a latent reward model needs at least one dimension")
    if len(set(dims)) != len(dims):
        raise LatentRewardError(f"dimension names repeat: {dims}")
    for d in dims:
        if not isinstance(d, str) or not d or "." in d:
            raise LatentRewardError(f"bad dimension name {d!r}: need non-empty text without '.'")
    return dims


class LatentRewardModel(nn.Module):
    """Per-dimension rewards of noised latents (see module docstring).

    Args:
        config: trunk fields of the generator's transformer config (``trunk_config``).
        num_blocks: K, how many transformer blocks the trunk has.
        dims: dimension names, one head each.
        pooling: "attention" (a learned query per dimension) or "mean" over tokens.
    """

    def __init__(
        self,
        config: dict[str, Any],
        num_blocks: int,
        dims: Sequence[str],
        pooling: Pooling = "attention",
    ) -> None:
        from diffusers.models.transformers.transformer_wan import (
            WanRotaryPosEmbed,
            WanTimeTextImageEmbedding,
            WanTransformerBlock,
        )

        super().__init__()
        if num_blocks < 1:
            raise LatentRewardError(f"num_blocks must be at least 1, got {num_blocks}")
        if pooling not in ("attention", "mean"):
            raise LatentRewardError(f"pooling must be 'attention' or 'mean', got {pooling!r}")
        self.config = dict(config)
        self.dims = check_dims(dims)
        self.num_blocks = int(num_blocks)
        self.pooling = pooling
        c = self.config
        dim = c["num_attention_heads"] * c["attention_head_dim"]
        patch = tuple(c["patch_size"])
        self.patch_size = patch
        self.rope = WanRotaryPosEmbed(c["attention_head_dim"], patch, c["rope_max_seq_len"])
        self.patch_embedding = nn.Conv3d(c["in_channels"], dim, kernel_size=patch, stride=patch)
        self.condition_embedder = WanTimeTextImageEmbedding(
            dim=dim,
            time_freq_dim=c["freq_dim"],
            time_proj_dim=dim * 6,
            text_embed_dim=c["text_dim"],
        )
        self.blocks = nn.ModuleList(
            WanTransformerBlock(
                dim,
                c["ffn_dim"],
                c["num_attention_heads"],
                c["qk_norm"],
                c["cross_attn_norm"],
                c["eps"],
                c["added_kv_proj_dim"],
            )
            for _ in range(self.num_blocks)
        )
        self.norm = nn.LayerNorm(dim)
        n = len(self.dims)
        self.queries = (
            nn.Parameter(torch.randn(n, dim) * dim**-0.5) if pooling == "attention" else None
        )
        self.heads = nn.ModuleDict({d: nn.Linear(dim, 1) for d in self.dims})

    @property
    def in_channels(self) -> int:
        return int(self.config["in_channels"])

    @property
    def coord_channels(self) -> int:
        """Coordinate channels appended to x_t, as the generator's adapter does (0 or 3)."""
        return int(self.config.get("coord_channels", 0))

    @property
    def text_dim(self) -> int:
        return int(self.config["text_dim"])

    def features(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        """Token features after the K blocks and the norm, (B, N, D).

        Args:
            x_t: (B, C, F, H, W) noised latent; F, H, W divisible by the patch size.
            t: (B,) times in [0, 1] (0 data, 1 noise).
            cond: (B, L, text_dim) text embeddings of the generator's text encoder.
        """
        channels = self.in_channels - self.coord_channels
        if x_t.ndim != 5 or x_t.shape[1] != channels:
            raise LatentRewardError(
                f"expected x_t of shape (B, {channels}, F, H, W), got {tuple(x_t.shape)}"
            )
        if any(n % p for n, p in zip(x_t.shape[2:], self.patch_size)):
            raise LatentRewardError(
                f"latent grid {tuple(x_t.shape[2:])} does not divide into patches {self.patch_size}"
            )
        if self.coord_channels:
            x_t = torch.cat([x_t, coordinate_grid(x_t)], dim=1)
        rotary = self.rope(x_t)
        h = self.patch_embedding(x_t).flatten(2).transpose(1, 2).contiguous()
        _, t_proj, text, _ = self.condition_embedder(t.float() * TIMESTEP_SCALE, cond.to(h.dtype))
        t_proj = t_proj.unflatten(1, (6, -1))
        for block in self.blocks:
            h = block(h, text, t_proj, rotary)
        return self.norm(h)

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        """Rewards (B, n), column j for ``dims[j]``; arguments as ``features``."""
        h = self.features(x_t, t, cond)
        if self.queries is None:
            pooled = h.mean(dim=1, keepdim=True).expand(-1, len(self.dims), -1)
        else:
            logits = torch.einsum("bnd,kd->bkn", h, self.queries) * h.shape[-1] ** -0.5
            pooled = torch.einsum("bkn,bnd->bkd", logits.softmax(dim=-1), h)
        return torch.cat([self.heads[d](pooled[:, j]) for j, d in enumerate(self.dims)], dim=1)

    def metadata(self) -> dict[str, Any]:
        """What ``LatentRewardModel(**...)`` needs to rebuild this model."""
        return {
            "config": self.config,
            "num_blocks": self.num_blocks,
            "dims": self.dims,
            "pooling": self.pooling,
        }


def from_generator(
    transformer: nn.Module,
    num_blocks: int,
    dims: Sequence[str],
    *,
    pooling: Pooling = "attention",
    coord_channels: int = 0,
    seed: int = 0,
) -> LatentRewardModel:
    """A latent reward model whose trunk is a copy of the generator's first ``num_blocks`` blocks.

    The generator is left untouched (its weights are copied, not shared). Pooling queries and
    heads are freshly initialised from ``seed``.

    Args:
        transformer: a ``WanTransformer3DModel`` (wrappers with ``.module`` are unwrapped;
            LoRA adapters must be merged first).
        num_blocks: K, 1 ≤ K ≤ the generator's number of blocks.
        dims: dimension names.
        pooling: "attention" or "mean".
        coord_channels: the generator adapter's ``coord_channels`` (its input grid channels).
        seed: initialisation seed of the new layers.
    """
    while hasattr(transformer, "module"):
        transformer = transformer.module
    if getattr(transformer, "peft_config", None):
        raise LatentRewardError("the generator has LoRA adapters; merge them before copying blocks")
    total = len(transformer.blocks)
    if not 1 <= num_blocks <= total:
        raise LatentRewardError(
            f"num_blocks must be in [1, {total}] for this generator, got {num_blocks}"
        )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        config = {**trunk_config(transformer.config), "coord_channels": coord_channels}
        model = LatentRewardModel(config, num_blocks, dims, pooling)
    for name in ("patch_embedding", "condition_embedder"):
        getattr(model, name).load_state_dict(getattr(transformer, name).state_dict())
    for i in range(num_blocks):
        model.blocks[i].load_state_dict(transformer.blocks[i].state_dict())
    return model.float()
