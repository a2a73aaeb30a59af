"""The settings every trainer shares: ``RunConfig`` (the run) and ``OptimConfig`` (the optimiser).

Each trainer's config (reward model, base-VLM pre-training, policy pre-training, alignment,
Flow-GRPO, latent reward model) *extends* ``RunConfig`` and *holds* an ``OptimConfig`` in
its ``optim`` field, next to its own fields. A recipe reads::

    out_dir: runs/policy-synth      # RunConfig: flat, the first keys of every trainer config
    seed: 0
    steps: 1200
    save_every: 200
    batch_size: 16                  # the trainer's own fields
    optim:                          # OptimConfig: one nested section
      lr: 1.0e-3
      warmup_steps: 50
      schedule: cosine

Why the two differ. The run settings are the ones typed on every command line
(``out_dir=… steps=… --resume``) and the only ones a resumed run may change
(``vidalign.training.RESUME_MAY_CHANGE`` names top-level fields), so they stay flat and
short. The optimiser settings are a group read together and passed together to one builder
(``vidalign.training.lr_scheduler``), so they live in one section; ``optim.lr`` also never
collides with a trainer's own rates (the reward trainer's ``optim.lr_head``). A trainer with
extra optimiser knobs extends ``OptimConfig`` (``vidalign.reward.config.RewardOptim``).

A trainer config changes only the defaults of the run fields (``run_default``), never their
meaning. Names that older recipes used are in ``RunConfig.RENAMED``: loading one is a
``ConfigError`` that names the file, the old field and the new one, never a silent drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal


@dataclass
class OptimConfig:
    """AdamW with a warm-up then a constant or cosine learning rate (``training.lr_factor``)."""

    lr: float = field(default=1e-4, metadata={"help": "AdamW peak learning rate", "ge": 0})
    warmup_steps: int = field(
        default=0, metadata={"help": "steps of linear warm-up to lr", "ge": 0}
    )
    schedule: Literal["constant", "cosine"] = field(
        default="constant",
        metadata={"help": "after the warm-up: constant, or cosine decay to min_lr_ratio × lr"},
    )
    min_lr_ratio: float = field(
        default=0.1, metadata={"help": "cosine floor, × lr (cosine only)", "ge": 0, "le": 1}
    )
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "ge": 0})
    grad_clip: float = field(
        default=1.0, metadata={"help": "max gradient norm (0: no clipping)", "ge": 0}
    )


@dataclass
class RunConfig:
    """Where a run writes, how long it goes, when it logs and saves, and how it resumes."""

    RENAMED: ClassVar[dict[str, str]] = {
        "output_dir": "out_dir",
        "keep_checkpoints": "keep",
        "max_steps": "steps",
        "max_grad_norm": "optim.grad_clip",
        "grad_clip": "optim.grad_clip",
        "lr": "optim.lr",
        "warmup_steps": "optim.warmup_steps",
        "min_lr_ratio": "optim.min_lr_ratio",
        "weight_decay": "optim.weight_decay",
        "schedule": "optim.schedule",
    }
    """Old top-level field → where it lives now (``vidalign.config`` reports either)."""

    out_dir: str = field(default="runs/run", metadata={"help": "run folder"})
    seed: int = field(
        default=0, metadata={"help": "seed of initialisation, data order and noise", "ge": 0}
    )
    steps: int = field(default=100, metadata={"help": "optimizer steps", "ge": 1})
    log_every: int = field(
        default=10, metadata={"help": "steps between rows of metrics.jsonl / TensorBoard", "ge": 1}
    )
    save_every: int = field(
        default=100, metadata={"help": "steps between checkpoints (0: at the end only)", "ge": 0}
    )
    keep: int = field(default=2, metadata={"help": "newest checkpoints kept (0: all)", "ge": 0})
    resume: bool = field(
        default=False, metadata={"help": "continue from the latest checkpoint of out_dir"}
    )
    stop_at: int | None = field(
        default=None,
        metadata={
            "help": "end this call after that step with a checkpoint and no final model, as a "
            "stopped job would (resume=true continues it); null: run to steps",
            "ge": 1,
        },
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    threads: int = field(
        default=0, metadata={"help": "torch CPU threads (0: leave as is)", "ge": 0}
    )


def run_default(name: str, default: Any) -> Any:
    """The ``RunConfig`` field ``name`` with another default (same help and range)::

    class PretrainConfig(RunConfig):
        out_dir: str = run_default("out_dir", "runs/policy-synth")
    """
    meta = RunConfig.__dataclass_fields__[name].metadata
    return field(default=default, metadata=meta)
