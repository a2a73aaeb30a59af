"""The reward trainer's config: one dataclass, YAML recipes in ``configs/reward/``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from vidalign import DEFAULT_DIMS
from vidalign.reward.tiny import TinyQwen2VLSpec
from vidalign.training_config import OptimConfig, RunConfig, run_default


@dataclass
class LoraSettings:
    """LoRA on the language model's linear layers (peft)."""

    enabled: bool = field(default=False, metadata={"help": "train LoRA adapters, not full weights"})
    r: int = field(default=64, metadata={"help": "LoRA rank", "ge": 1})
    alpha: int = field(default=128, metadata={"help": "LoRA alpha (scale alpha / r)", "gt": 0})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout", "ge": 0, "lt": 1})
    target_modules: list[str] = field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
        metadata={"help": "language-model linear layers that get adapters"},
    )


@dataclass
class SamplingSettings:
    """The sampling contract stored with the model (REFERENCE.md §2); fps xor num_frames."""

    fps: float | None = field(
        default=2.0, metadata={"help": "frames per second to sample", "gt": 0}
    )
    num_frames: int | None = field(
        default=None, metadata={"help": "fixed frame count instead of fps", "ge": 1}
    )
    max_pixels: int | None = field(
        default=448 * 448, metadata={"help": "per-frame area cap", "ge": 1}
    )
    min_pixels: int | None = field(default=None, metadata={"help": "per-frame area floor", "ge": 1})


@dataclass
class RewardOptim(OptimConfig):
    """The shared optimiser settings plus a learning rate for each of the two small groups."""

    lr_special: float | None = field(
        default=None,
        metadata={
            "help": "learning rate of the reward-token embedding rows (null: lr; 0 keeps them)",
            "ge": 0,
        },
    )
    lr_head: float | None = field(
        default=None, metadata={"help": "learning rate of the head (null: lr; 0 keeps it)", "ge": 0}
    )


@dataclass
class RewardTrainConfig(RunConfig):
    """Train a multi-dimensional VideoReward model on preference pairs.

    The run settings (``out_dir``, ``steps``, ``save_every``, …) are ``RunConfig``'s and
    the optimiser's are in ``optim`` (``vidalign.training_config``); ``optim.lr`` is the
    rate of the backbone weights or LoRA, and ``weight_decay`` never applies to embeddings.
    """

    RENAMED: ClassVar[dict[str, str]] = {
        **RunConfig.RENAMED,
        "lr_special": "optim.lr_special",
        "lr_head": "optim.lr_head",
        "warmup_ratio": "optim.warmup_steps (a number of steps, not a share of them)",
    }

    out_dir: str = run_default("out_dir", "runs/reward")
    steps: int = run_default("steps", 100)
    save_every: int = run_default("save_every", 50)
    train_data: str = field(default="", metadata={"help": "pairs file (CSV / JSONL / Parquet)"})
    val_data: str | None = field(default=None, metadata={"help": "validation pairs file"})
    video_root: str | None = field(
        default=None, metadata={"help": "folder for relative video paths"}
    )
    dims: list[str] = field(
        default_factory=lambda: list(DEFAULT_DIMS), metadata={"help": "dimensions"}
    )
    base_model: str | None = field(
        default=None, metadata={"help": "local Qwen2-VL folder; empty builds the tiny model"}
    )
    tiny: TinyQwen2VLSpec = field(
        default_factory=TinyQwen2VLSpec, metadata={"help": "tiny model sizes"}
    )
    padding_side: Literal["right", "left"] = field(
        default="right", metadata={"help": "tiny tokenizer padding"}
    )
    token_mode: Literal["separate", "shared"] = field(
        default="separate", metadata={"help": "one reward token per dim, or one shared token"}
    )
    template: str = field(
        default="default", metadata={"help": "default | prompt_first | path to a template file"}
    )
    sampling: SamplingSettings = field(
        default_factory=SamplingSettings, metadata={"help": "sampling"}
    )
    loss: Literal["bt", "btt", "regression"] = field(default="btt", metadata={"help": "loss"})
    theta: float = field(default=5.0, metadata={"help": "BTT tie parameter θ", "gt": 1})
    lora: LoraSettings = field(default_factory=LoraSettings, metadata={"help": "LoRA"})
    train_vision: bool = field(default=True, metadata={"help": "train the vision tower and merger"})
    freeze_vision_stem: bool = field(
        default=False,
        metadata={
            "help": "with train_vision, still keep the tower's patch embedding and first-block "
            "MLP fixed (see vidalign.reward.tiny.freeze_vision_stem)"
        },
    )
    train_language: bool = field(
        default=True,
        metadata={
            "help": "train the language model's weights (without LoRA); false keeps a base "
            "VLM's language model as it is: only the reward-token rows, the head and (with "
            "train_vision) the tower learn"
        },
    )
    optim: RewardOptim = field(
        default_factory=lambda: RewardOptim(lr=2e-6, warmup_steps=5),
        metadata={"help": "optimiser: lr (backbone / LoRA), lr_special, lr_head, schedule, …"},
    )
    batch_size: int = field(
        default=1, metadata={"help": "pairs per process per micro-step", "ge": 1}
    )
    grad_accum: int = field(default=4, metadata={"help": "micro-steps per optimizer step", "ge": 1})
    epochs: float | None = field(
        default=None,
        metadata={"help": "if set, steps = ceil(epochs * pairs / global batch)", "gt": 0},
    )
    mixed_precision: Literal["no", "bf16", "fp16"] = field(
        default="no", metadata={"help": "autocast"}
    )
    eval_every: int = field(
        default=50, metadata={"help": "steps between val evaluations (0: end only)", "ge": 0}
    )
