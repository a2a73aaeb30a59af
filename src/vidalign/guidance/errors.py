"""Errors of the latent reward model and reward guidance."""

from vidalign.errors import VidalignError


class LatentRewardError(VidalignError):
    """A latent reward model, its folder, its data or its guidance settings are invalid."""
