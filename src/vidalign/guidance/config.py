"""Configs of ``vidalign guidance train`` (latent reward model) and ``vidalign guidance ablate``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vidalign.training_config import OptimConfig, RunConfig, run_default


@dataclass
class LatentRMConfig(RunConfig):
    """Training a noise-aware latent reward model with BTT on preference pairs; run settings
    are ``RunConfig``'s."""

    out_dir: str = run_default("out_dir", "runs/guidance-latent-rm")
    steps: int = run_default("steps", 300)
    generator: str = field(
        default="", metadata={"help": "generator folder: trunk weights, latent codec, text encoder"}
    )
    train_data: str = field(default="", metadata={"help": "pair file (.csv, .jsonl, .parquet)"})
    val_data: str = field(default="", metadata={"help": "held-out pair file ('' = none)"})
    video_root: str = field(
        default="", metadata={"help": "folder relative video paths resolve against ('' = file's)"}
    )
    dims: list[str] = field(
        default_factory=list, metadata={"help": "label dimensions ('[]' = those in the file)"}
    )
    num_blocks: int = field(
        default=1,
        metadata={
            "help": "K: generator blocks copied into the trunk (see guidance.model)",
            "ge": 1,
        },
    )
    pooling: Literal["attention", "mean"] = field(
        default="attention", metadata={"help": "token pooling before the per-dimension heads"}
    )
    variant: Literal["noised", "clean"] = field(
        default="noised",
        metadata={
            "help": "noised: t ~ U(0, 1) shared by the pair; clean: t = 0 (Table 7 ablation)"
        },
    )
    theta: float = field(default=5.0, metadata={"help": "BTT tie parameter θ", "gt": 1})
    batch_size: int = field(default=16, metadata={"help": "global batch size in pairs", "ge": 1})
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=3e-4, warmup_steps=20))
    eval_draws: int = field(
        default=8,
        metadata={"help": "noise levels drawn per held-out pair for the binned accuracy", "ge": 1},
    )
    eval_bins: int = field(
        default=5, metadata={"help": "equal-width t bins of the accuracy table", "ge": 1}
    )


@dataclass
class AblateConfig:
    """Table 6/7 analogues on the synthetic world (see ``vidalign.guidance.ablate``)."""

    out_dir: str = field(default="runs/guidance-ablate", metadata={"help": "run folder"})
    generator: str = field(
        default="runs/policy-synth/model", metadata={"help": "pre-trained synthetic generator"}
    )
    pair_prompts: int = field(
        default=384,
        metadata={"help": "training prompts; two samples each form one pair", "ge": 1},
    )
    val_prompts: int = field(
        default=64, metadata={"help": "held-out prompts for RM accuracy", "ge": 1}
    )
    eval_prompts: int = field(
        default=64, metadata={"help": "prompts sampled with each setting", "ge": 1}
    )
    labeller: Literal["annotators", "oracle"] = field(
        default="annotators",
        metadata={
            "help": "annotators: the simulated raters (BTT with ties); oracle: sign of the "
            "oracle difference, a tie below tie_margin"
        },
    )
    tie_margin: list[float] = field(
        default_factory=lambda: [0.02, 0.04, 0.02],
        metadata={"help": "per-dimension oracle difference below which a pair is a tie", "ge": 0},
    )
    score_transform: Literal["raw", "log"] = field(
        default="raw",
        metadata={
            "help": "oracle scores the labels compare: raw, or log (for generators whose "
            "samples sit near the oracle's floor, where raw differences vanish)"
        },
    )
    rm_steps: int = field(
        default=300, metadata={"help": "training steps of each latent RM", "ge": 1}
    )
    num_blocks: int = field(default=1, metadata={"help": "K of both latent RMs", "ge": 1})
    scale: float = field(default=1.0, metadata={"help": "guidance scale w", "ge": 0})
    max_ratio: float = field(default=5.0, metadata={"help": "cap on t/(1−t)", "gt": 0})
    t_min: float = field(default=0.0, metadata={"help": "guidance window start", "ge": 0, "le": 1})
    t_max: float = field(default=1.0, metadata={"help": "guidance window end", "ge": 0, "le": 1})
    sweep: list[str] = field(
        default_factory=lambda: ["1:0:0", "0:1:0", "0:0:1", "0.5:0.5:0", "1:1:1"],
        metadata={"help": "VQ:MQ:TA weight settings for the noised RM"},
    )
    steps: int = field(default=0, metadata={"help": "Euler steps (0: the generator's)", "ge": 0})
    batch_size: int = field(default=32, metadata={"help": "samples per sampler call", "ge": 1})
    seed: int = field(
        default=0, metadata={"help": "seed of prompts, samples and training", "ge": 0}
    )
    threads: int = field(
        default=0, metadata={"help": "torch CPU threads (0: leave as is)", "ge": 0}
    )
