"""Config of ``vidalign policy pretrain``: the base generator of the synthetic world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vidalign.training_config import OptimConfig, RunConfig, run_default


@dataclass
class ArchConfig:
    """Sizes of the pixel-space Wan transformer and its tiny T5 text encoder."""

    patch_size: list[int] = field(
        default_factory=lambda: [2, 4, 4], metadata={"help": "(t, h, w) patch", "ge": 1}
    )
    num_layers: int = field(default=4, metadata={"help": "transformer blocks", "ge": 1})
    num_heads: int = field(default=4, metadata={"help": "attention heads", "ge": 1})
    head_dim: int = field(default=32, metadata={"help": "channels per head", "ge": 1})
    ffn_dim: int = field(default=512, metadata={"help": "feed-forward width", "ge": 1})
    text_dim: int = field(default=64, metadata={"help": "text encoder width (T5 d_model)", "ge": 1})
    text_layers: int = field(default=2, metadata={"help": "T5 encoder layers", "ge": 1})
    text_heads: int = field(default=4, metadata={"help": "T5 encoder heads", "ge": 1})
    max_sequence_length: int = field(default=32, metadata={"help": "text tokens (padded)", "ge": 1})
    prediction: Literal["velocity", "sample"] = field(
        default="sample",
        metadata={"help": "transformer output: clean sample (turned into v) or velocity"},
    )
    min_t: float = field(
        default=0.05, metadata={"help": "floor on t when turning x0 into v", "ge": 0, "lt": 1}
    )
    coord_channels: int = field(
        default=3,
        metadata={"help": "coordinate input channels (0 or 3): absolute positions", "ge": 0},
    )


@dataclass
class DataConfig:
    """The pre-rendered training clips: prompts × synthetic generator profiles."""

    num_clips: int = field(default=4096, metadata={"help": "clips in the cache", "ge": 1})
    num_prompts: int = field(default=1024, metadata={"help": "distinct training prompts", "ge": 1})
    profiles: list[str] = field(
        default_factory=list, metadata={"help": "generator profiles to mix (empty: all twelve)"}
    )
    size: int = field(default=32, metadata={"help": "clip height = width", "ge": 1})
    num_frames: int = field(default=8, metadata={"help": "frames per clip", "ge": 1})
    fps: float = field(default=8.0, metadata={"help": "frame rate of the clips", "gt": 0})
    seed: int = field(default=0, metadata={"help": "seed of prompts and clips", "ge": 0})


@dataclass
class SamplingConfig:
    """Defaults stored with the saved generator."""

    steps: int = field(default=20, metadata={"help": "Euler steps", "ge": 1})
    cfg: float = field(default=3.0, metadata={"help": "classifier-free guidance scale", "ge": 0})
    shift: float = field(
        default=1.0, metadata={"help": "timestep shift of the sampling grid", "gt": 0}
    )


@dataclass
class PretrainConfig(RunConfig):
    """Pre-train the synthetic world's base generator; run settings are ``RunConfig``'s."""

    out_dir: str = run_default("out_dir", "runs/policy-synth")
    steps: int = run_default("steps", 1500)
    save_every: int = run_default("save_every", 250)
    batch_size: int = field(default=16, metadata={"help": "global batch size", "ge": 1})
    time_sampling: Literal["uniform", "logit_normal"] = field(
        default="logit_normal", metadata={"help": "training distribution of t"}
    )
    time_mean: float = field(default=0.0, metadata={"help": "logit-normal mean"})
    time_std: float = field(default=1.0, metadata={"help": "logit-normal std", "gt": 0})
    time_shift: float = field(
        default=1.0, metadata={"help": "timestep shift of training t", "gt": 0}
    )
    loss_space: Literal["velocity", "sample"] = field(
        default="sample",
        metadata={
            "help": "error measured on v, or on x0 = x_t - t·v (t²-weighted v error, which "
            "keeps the high-noise steps that fix the layout from being drowned out)"
        },
    )
    object_weight: float = field(
        default=0.0,
        metadata={
            "help": "extra loss weight λ on pixels that differ from the clip's background "
            "(vidalign.policy.weighting), decaying to 0",
            "ge": 0,
        },
    )
    object_weight_until: float = field(
        default=0.6,
        metadata={"help": "share of the steps over which object_weight decays", "ge": 0, "le": 1},
    )
    cond_dropout: float = field(
        default=0.1,
        metadata={"help": "probability of the empty prompt (enables CFG)", "ge": 0, "le": 1},
    )
    mixed_precision: Literal["no", "bf16", "fp16"] = field(
        default="no", metadata={"help": "accelerate mixed precision"}
    )
    arch: ArchConfig = field(default_factory=ArchConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=50, schedule="cosine")
    )
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
