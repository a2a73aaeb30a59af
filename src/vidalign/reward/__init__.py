"""VideoReward: the multi-dimensional VLM reward model (REFERENCE.md §2).

Build (``builder``), read at special tokens (``model``), prompt templates (``template``),
inputs (``processing``), losses (``losses``), training (``trainer``), scoring and the
saved folder (``scorer``), released checkpoints (``released``).
"""

from vidalign.reward.losses import (
    RewardLossStats,
    batch_loss,
    bt_loss,
    btt_loss,
    regression_loss,
)
from vidalign.reward.model import VideoRewardModel
from vidalign.reward.processing import RewardProcessor, SamplingContract
from vidalign.reward.released import load_released
from vidalign.reward.scorer import RewardScorer, ScoreError
from vidalign.reward.template import RewardTemplate, TemplateError

__all__ = [
    "RewardLossStats",
    "RewardProcessor",
    "RewardScorer",
    "RewardTemplate",
    "SamplingContract",
    "ScoreError",
    "TemplateError",
    "VideoRewardModel",
    "batch_loss",
    "bt_loss",
    "btt_loss",
    "load_released",
    "regression_loss",
]
