"""Config of ``vidalign guidance train``: the noise-aware latent reward model."""

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
