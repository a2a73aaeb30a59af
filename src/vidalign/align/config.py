"""Config of ``vidalign align train``: Flow-DPO, Flow-RWR or SFT with LoRA (REFERENCE.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vidalign.policy.lora import WAN_ATTENTION_TARGETS
from vidalign.training_config import OptimConfig, RunConfig, run_default


@dataclass
class LoraSettings:
    """The LoRA adapter on the generator's transformer (peft)."""

    rank: int = field(default=16, metadata={"help": "LoRA rank r", "ge": 1})
    alpha: float | None = field(
        default=None, metadata={"help": "LoRA alpha (null: = rank)", "gt": 0}
    )
    dropout: float = field(default=0.0, metadata={"help": "LoRA dropout", "ge": 0, "lt": 1})
    targets: list[str] = field(
        default_factory=lambda: list(WAN_ATTENTION_TARGETS),
        metadata={"help": "module-name suffixes to adapt"},
    )


@dataclass
class MonitorSettings:
    """The reward-hacking monitor (``vidalign.eval.hacking``): every ``every`` steps the
    current policy samples a fixed prompt set with fixed seeds, and the proxy (the reward
    model being optimised) and a gold judge score the samples."""

    every: int = field(default=0, metadata={"help": "steps between evaluations (0: off)", "ge": 0})
    proxy: str = field(default="", metadata={"help": "reward model folder being optimised"})
    gold: str = field(
        default="oracle", metadata={"help": "held-out judge: 'oracle' or a reward model folder"}
    )
    prompts: str = field(
        default="", metadata={"help": "prompt file ('' = the first prompts of the pair file)"}
    )
    num_prompts: int = field(
        default=8, metadata={"help": "prompts sampled per evaluation", "ge": 1}
    )
    seed: int = field(default=1234, metadata={"help": "seed of the fixed sampling noise", "ge": 0})
    sample_steps: int | None = field(
        default=None, metadata={"help": "Euler steps (null: the generator's default)", "ge": 1}
    )
    window: int = field(
        default=3, metadata={"help": "evaluations the warning rule looks at", "ge": 1}
    )
    gold_tolerance: float = field(
        default=0.02, metadata={"help": "gold drop that counts as falling (gold's units)", "ge": 0}
    )


@dataclass
class AlignConfig(RunConfig):
    """Train a LoRA with Flow-DPO, Flow-RWR or SFT; run settings are ``RunConfig``'s."""

    out_dir: str = run_default("out_dir", "runs/align")
    steps: int = run_default("steps", 200)
    log_every: int = run_default("log_every", 1)
    method: Literal["dpo", "rwr", "sft"] = field(
        default="dpo", metadata={"help": "dpo: Flow-DPO; rwr: Flow-RWR; sft: flow matching"}
    )
    policy: str = field(default="", metadata={"help": "base generator folder"})
    pairs: str = field(default="", metadata={"help": "pair file (from `align make-pairs`)"})
    label: str = field(
        default="Overall", metadata={"help": "label that picks winner and loser (or a dim)"}
    )
    batch_size: int = field(
        default=8, metadata={"help": "global batch: pairs (dpo) or clips (sft, rwr)", "ge": 1}
    )
    beta: float = field(
        default=100.0, metadata={"help": "Flow-DPO β (public T2I implementation: 100)", "gt": 0}
    )
    beta_schedule: Literal["constant", "one_minus_t_sq"] = field(
        default="constant", metadata={"help": "β_t: constant (recommended) or β·(1-t)²"}
    )
    sft_weight: float = field(
        default=0.0,
        metadata={
            "help": "Flow-DPO: weight λ of the winners' flow-matching loss added to the DPO "
            "loss (0: plain Flow-DPO); it stops DPO from fitting winners worse",
            "ge": 0,
        },
    )
    train_cfg: float = field(
        default=1.0,
        metadata={
            "help": "CFG scale of the velocity the loss is measured on (1: the conditional "
            "model). Set it to the scale the pairs were sampled at: trained unguided on "
            "samples drawn with guidance, the policy learns the guided samples as its "
            "conditional and guidance then applies twice",
            "ge": 1,
        },
    )
    rwr_temperature: float = field(
        default=1.0, metadata={"help": "Flow-RWR τ in exp(r/τ)", "gt": 0}
    )
    rwr_normalisation: Literal["batch", "global"] = field(
        default="batch",
        metadata={"help": "batch: B·softmax(r/τ) over the global batch; global: exp((r-r̄)/τ)"},
    )
    time_sampling: Literal["uniform", "logit_normal"] = field(
        default="logit_normal", metadata={"help": "training distribution of t"}
    )
    time_mean: float = field(default=0.0, metadata={"help": "logit-normal mean"})
    time_std: float = field(default=1.0, metadata={"help": "logit-normal std", "gt": 0})
    time_shift: float = field(
        default=1.0, metadata={"help": "timestep shift of training t", "gt": 0}
    )
    mixed_precision: Literal["no", "bf16", "fp16"] = field(
        default="no", metadata={"help": "accelerate mixed precision"}
    )
    merge: bool = field(
        default=False, metadata={"help": "also write model/: the base with the LoRA merged"}
    )
    lora: LoraSettings = field(default_factory=LoraSettings)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=5e-6)
    )  # the paper's rate for a 1.3B model
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
