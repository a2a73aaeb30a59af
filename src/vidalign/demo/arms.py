"""The demo's arms and their display names: the one place both the pipeline and the report
read them from."""

from __future__ import annotations

from vidalign.demo.config import DemoConfig

ALIGN_METHODS = ("sft", "rwr", "dpo_beta_t", "dpo")
"""Alignment runs of the demo; each key names a section of the recipe's ``align`` mapping."""

METHOD_LABELS = {
    "sft": "SFT",
    "rwr": "Flow-RWR",
    "dpo_beta_t": "Flow-DPO (β_t)",
    "dpo": "Flow-DPO (constant β)",
    "grpo": "Flow-GRPO",
    "nrg": "Flow-NRG",
    "clean": "clean renderer",
}
GOLD_PREFIX = "gold_"


def method_label(method: str) -> str:
    """Display name of a demo method; ``gold_<m>`` is ``<m>`` trained on the oracle's labels."""
    if method.startswith(GOLD_PREFIX):
        base = method[len(GOLD_PREFIX) :]
        what = "oracle reward" if base == "grpo" else "oracle labels"
        return f"{METHOD_LABELS[base]}, {what}"
    return METHOD_LABELS.get(method, method.capitalize())


def align_arms(cfg: DemoConfig) -> list[str]:
    """Every LoRA arm of the demo: the align methods, GRPO, then their gold-label twins."""
    online = ["grpo"] if cfg.grpo else []
    return [*ALIGN_METHODS, *online, *(GOLD_PREFIX + m for m in cfg.gold)]
