"""Every shipped YAML recipe and both demo scales load into their config classes."""

from pathlib import Path

import pytest

from vidalign.align.config import AlignConfig
from vidalign.align.grpo_config import GRPOConfig
from vidalign.config import load_config
from vidalign.demo.config import load_demo_config
from vidalign.guidance.config import LatentRMConfig
from vidalign.reward.ablate import RewardAblateConfig
from vidalign.reward.config import RewardTrainConfig
from vidalign.synth.generator_config import PretrainConfig
from vidalign.synth.guidance_ablate import AblateConfig
from vidalign.synth.vlm_pretrain import VLMPretrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

CLASS_OF = {
    "align/synth_dpo.yaml": AlignConfig,
    "align/synth_dpo_beta_t.yaml": AlignConfig,
    "align/synth_grpo.yaml": GRPOConfig,
    "align/synth_rwr.yaml": AlignConfig,
    "align/synth_sft.yaml": AlignConfig,
    "align/wan21_1.3b_dpo_lora.yaml": AlignConfig,
    "align/wan21_1.3b_grpo_lora.yaml": GRPOConfig,
    "guidance/synth_ablate.yaml": AblateConfig,
    "guidance/synth_latent_rm.yaml": LatentRMConfig,
    "guidance/tiny.yaml": LatentRMConfig,
    "policy/synth_base.yaml": PretrainConfig,
    "policy/synth_small.yaml": PretrainConfig,
    "policy/tiny.yaml": PretrainConfig,
    "reward/ablate_synth.yaml": RewardAblateConfig,
    "reward/qwen2vl_2b.yaml": RewardTrainConfig,
    "reward/synth_small.yaml": RewardTrainConfig,
    "reward/synth_vlm.yaml": VLMPretrainConfig,
    "reward/synth_vlm_align.yaml": VLMPretrainConfig,
    "reward/tiny.yaml": RewardTrainConfig,
}


def test_every_recipe_has_a_config_class():
    found = {str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.yaml")}
    assert found <= set(CLASS_OF), f"add these recipes to CLASS_OF: {sorted(found - set(CLASS_OF))}"


@pytest.mark.parametrize("name", sorted(CLASS_OF))
def test_recipe_loads(name):
    cfg = load_config(CLASS_OF[name], CONFIGS / name, [])
    assert isinstance(cfg, CLASS_OF[name])


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_demo_scale_loads(scale):
    cfg = load_demo_config(scale)
    assert cfg.align and cfg.evaluation.general_prompts > 0


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_demo_scale_trainer_sections_build_their_configs(scale):
    from vidalign.config import config_from_dict

    cfg = load_demo_config(scale)
    sections = {
        "vlm": (VLMPretrainConfig, cfg.vlm),
        "vlm_align": (VLMPretrainConfig, cfg.vlm_align),
        "reward": (RewardTrainConfig, cfg.reward),
        "policy": (PretrainConfig, cfg.policy),
        "grpo": (GRPOConfig, cfg.grpo),
        "guidance": (LatentRMConfig, cfg.guidance),
        **{f"align.{m}": (AlignConfig, over) for m, over in cfg.align.items()},
    }
    for name, (cls, section) in sections.items():
        if section:
            assert isinstance(config_from_dict(cls, section, where=name), cls), name
