"""Flow-NRG: a noise-aware latent reward model and reward-guided sampling (REFERENCE.md §4)."""

from vidalign.guidance.errors import LatentRewardError
from vidalign.guidance.folder import load_latent_reward, save_latent_reward
from vidalign.guidance.model import LatentRewardModel, from_generator
from vidalign.guidance.nrg import (
    GuidanceSettings,
    guidance_ratio,
    reward_guidance,
    weight_vector,
)

__all__ = [
    "GuidanceSettings",
    "LatentRewardError",
    "LatentRewardModel",
    "from_generator",
    "guidance_ratio",
    "load_latent_reward",
    "reward_guidance",
    "save_latent_reward",
    "weight_vector",
]
