"""Settings of ``vidalign demo``: one recipe per scale, in ``scales/<name>.yaml``.

Each stage section holds overrides of that stage's own config dataclass (the reward
trainer's, the pre-trainer's, …), so the demo never re-declares their fields: a key the
stage does not know is an error naming the stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from vidalign.config import load_config


@dataclass
class DatasetStage:
    """The synthetic preference data set (``vidalign synth dataset``)."""

    prompts: int = field(
        default=96, metadata={"help": "general prompts shared by the splits", "ge": 1}
    )
    pairs_per_prompt: int = field(default=4, metadata={"help": "pairs per prompt", "ge": 1})
    size: int = field(default=32, metadata={"help": "clip height = width", "ge": 1})
    num_frames: int = field(default=8, metadata={"help": "frames per clip", "ge": 2})
    fps: float = field(default=8.0, metadata={"help": "clip frame rate", "gt": 0})
    eval_prompts: int = field(default=64, metadata={"help": "held-out general prompts", "ge": 1})
    hard_prompts: int = field(default=32, metadata={"help": "held-out hard prompts", "ge": 0})
    workers: int = field(default=1, metadata={"help": "rendering processes", "ge": 1})


@dataclass
class EvalStage:
    """The final comparison of every method against the base model."""

    general_prompts: int = field(default=64, metadata={"help": "general prompts sampled", "ge": 1})
    hard_prompts: int = field(default=32, metadata={"help": "hard prompts sampled", "ge": 0})
    samples_per_prompt: int = field(default=1, metadata={"help": "seeds per prompt", "ge": 1})
    bootstrap: int = field(
        default=1000, metadata={"help": "bootstrap resamples of the CIs", "ge": 1}
    )
    grid_prompts: int = field(
        default=6, metadata={"help": "prompts in the report's video grid", "ge": 0}
    )


@dataclass
class DemoConfig:
    """The paper's experiment in miniature; see ``vidalign.demo.pipeline``."""

    seed: int = field(default=0, metadata={"help": "seed of every stage", "ge": 0})
    threads: int = field(
        default=0, metadata={"help": "torch CPU threads (0: leave as is)", "ge": 0}
    )
    dataset: DatasetStage = field(default_factory=DatasetStage)
    base_vlm: str = field(
        default="",
        metadata={
            "help": "name of a base VLM shipped in the package (vidalign.builtin) for the "
            "reward model to start from; empty: pre-train one by the vlm and vlm_align sections"
        },
    )
    vlm: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "overrides of VLMPretrainConfig (used when base_vlm is empty); empty too: "
            "no base VLM, the reward model starts from scratch"
        },
    )
    vlm_align: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "overrides of VLMPretrainConfig for a second base-VLM stage that starts "
            "from the vlm stage's model (e.g. the alignment objective); empty: none"
        },
    )
    reward: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "overrides of RewardTrainConfig"}
    )
    base_generator: str = field(
        default="",
        metadata={
            "help": "name of a generator shipped in the package (vidalign.builtin) to "
            "start from; empty: pre-train one by the policy section"
        },
    )
    policy: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "overrides of PretrainConfig (used when base_generator is empty)"},
    )
    grpo: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "overrides of GRPOConfig for an online Flow-GRPO arm on the pairs stage's "
            "prompts, rewarded by the reward model (list grpo in gold for its oracle twin); "
            "empty: no GRPO arm"
        },
    )
    pairs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "overrides of the on-policy pair builder"}
    )
    align: dict[str, dict[str, Any]] = field(
        default_factory=dict, metadata={"help": "method name → overrides of the align config"}
    )
    gold: list[str] = field(
        default_factory=list,
        metadata={
            "help": "align methods also trained on the same samples labelled by the oracle "
            "(the gold-reward control: what a perfect reward model would give)"
        },
    )
    guidance: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "overrides of the latent reward model config"}
    )
    latent_rm_data: Literal["dataset", "pairs"] = field(
        default="dataset",
        metadata={
            "help": "what the latent reward model of Flow-NRG learns from. dataset: the "
            "preference data's train and val splits (the annotators' labels, which VideoReward "
            "learns from too); pairs: the base model's on-policy pairs labelled by the learned "
            "reward model (its gradient reward-hacks: docs/synthetic-world-experiments.md)"
        },
    )
    nrg: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Flow-NRG sampling: scale, weights, window"}
    )
    evaluation: EvalStage = field(default_factory=EvalStage)
    estimates: dict[str, float] = field(
        default_factory=dict, metadata={"help": "expected seconds per stage, for the display"}
    )


SCALES = ("tiny", "small")


def scale_recipe(scale: str) -> Path:
    """Path of the packaged recipe of ``scale``."""
    if scale not in SCALES:
        raise ValueError(f"unknown demo scale {scale!r}; choose one of {SCALES}")
    return Path(str(resources.files("vidalign.demo") / "scales" / f"{scale}.yaml"))


def load_demo_config(scale: str, overrides: list[str] = ()) -> DemoConfig:
    return load_config(DemoConfig, scale_recipe(scale), list(overrides))
