"""Config of ``vidalign align grpo``: online Flow-GRPO with LoRA and multi-dimensional rewards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vidalign.align.config import LoraSettings, MonitorSettings
from vidalign.training_config import OptimConfig, RunConfig, run_default


@dataclass
class RewardSettings:
    """What scores the rollouts (``vidalign.align.grpo_rewards``)."""

    sources: list[str] = field(
        default_factory=list,
        metadata={"help": "reward-model folders, 'oracle' (gold control only) or 'brightness' "
                          "(toy); several are used side by side, dims named dim@i"},
    )  # fmt: skip
    weights: dict[str, float] = field(
        default_factory=dict, metadata={"help": "weight per reward dimension ({}: 1 each)"}
    )
    combine: Literal["advantages", "rewards"] = field(
        default="advantages",
        metadata={"help": "advantages: normalise each dim in its group, then weight and sum "
                          "(DanceGRPO); rewards: weight and sum, then normalise"},
    )  # fmt: skip
    batch_size: int = field(default=8, metadata={"help": "clips per reward-model pass", "ge": 1})


@dataclass
class GRPOConfig(RunConfig):
    """Online Flow-GRPO on a LoRA; run settings are ``RunConfig``'s (a step is one batch of
    rollouts and its ``inner_epochs`` updates)."""

    out_dir: str = run_default("out_dir", "runs/grpo")
    steps: int = run_default("steps", 100)
    log_every: int = run_default("log_every", 1)
    save_every: int = run_default("save_every", 50)
    policy: str = field(default="", metadata={"help": "base generator folder"})
    prompts: str = field(default="", metadata={"help": "prompt file (.txt or .jsonl)"})
    prompts_per_step: int = field(
        default=8, metadata={"help": "prompts per step (global, divides by processes)", "ge": 1}
    )
    group_size: int = field(default=8, metadata={"help": "G, samples per prompt", "ge": 2})
    micro_batch: int = field(
        default=0,
        metadata={"help": "rollouts per model call, in sampling and training alike "
                          "(0: all of a process's rollouts)", "ge": 0},
    )  # fmt: skip
    sample_steps: int | None = field(
        default=None, metadata={"help": "sampler steps (null: the generator's default)", "ge": 1}
    )
    num_frames: int | None = field(
        default=None, metadata={"help": "clip frames (null: the generator's default)", "ge": 1}
    )
    height: int | None = field(
        default=None, metadata={"help": "clip height (null: the generator's default)", "ge": 1}
    )
    width: int | None = field(
        default=None, metadata={"help": "clip width (null: the generator's default)", "ge": 1}
    )
    shift: float | None = field(
        default=None,
        metadata={"help": "timestep shift of the grid (null: the generator's)", "gt": 0},
    )
    cfg: float = field(
        default=1.0, metadata={"help": "CFG scale of rollouts and training (1: off)", "ge": 1}
    )
    noise_level: float = field(default=0.7, metadata={"help": "a in σ_t = a·√(t/(1−t))", "gt": 0})
    sde_window: int = field(
        default=0, metadata={"help": "fast sampling: SDE on this many steps, ODE elsewhere "
                                     "(0: SDE on every step)", "ge": 0},
    )  # fmt: skip
    sde_window_start: int = field(
        default=0, metadata={"help": "first SDE step of the window", "ge": 0}
    )
    timestep_fraction: float = field(
        default=1.0, metadata={"help": "share of the SDE steps trained on", "gt": 0, "le": 1}
    )
    clip_range: float = field(
        default=1e-4, metadata={"help": "PPO ε on the ratio (Flow-GRPO: 1e-4)", "gt": 0}
    )
    adv_clip: float = field(
        default=5.0, metadata={"help": "clamp advantages to ±this (0: off)", "ge": 0}
    )
    advantage_std: Literal["group", "global"] = field(
        default="group", metadata={"help": "std of the advantage: the prompt's group or all"}
    )
    beta: float = field(
        default=0.04,
        metadata={"help": "weight of the step KL to the reference (LoRA off)", "ge": 0},
    )
    inner_epochs: int = field(
        default=1, metadata={"help": "optimizer updates per rollout batch (PPO epochs)", "ge": 1}
    )
    mixed_precision: Literal["no", "bf16", "fp16"] = field(
        default="no", metadata={"help": "accelerate mixed precision (rollouts too)"}
    )
    gold_control: bool = field(
        default=False,
        metadata={"help": "allow reward source 'oracle': a gold-control run, not the learned arm"},
    )
    reward: RewardSettings = field(default_factory=RewardSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4))
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
