"""Twelve generator profiles in two eras, and ``sample_clip``: one generator's take on a prompt.

A profile is a mix of failure modes (``vidalign.synth.degrade``): each mode strikes a clip
with some probability, at a severity drawn from a Beta distribution with a given mean.
The six "older" profiles fail often and hard, each with its own signature (noisy, blocky,
smeared, tinted, drifting, forgetful); the six "modern" ones fail rarely and mildly.
Modern profiles carry three times the weight when pairs are drawn, so most pairs come
from them, as in the paper's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from vidalign.synth.degrade import FAILURE_MODES, render_with_failures
from vidalign.synth.prompts import parse_prompt

CONCENTRATION = 6.0
"""Beta concentration ``a + b`` of every severity distribution."""


@dataclass(frozen=True)
class Profile:
    """One synthetic generator.

    Attributes:
        name: short identifier, used as ``A_model`` / ``B_model`` in datasets.
        era: "older" (pre-Sora-like, worse) or "modern" (better).
        failures: mode -> (probability per clip, mean severity when it strikes).
        weight: relative chance of being drawn into a pair.
    """

    name: str
    era: Literal["older", "modern"]
    failures: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    weight: float = 1.0

    def __post_init__(self) -> None:
        for mode, (rate, mean) in self.failures.items():
            if mode not in FAILURE_MODES:
                raise ValueError(f"profile {self.name!r}: unknown failure mode {mode!r}")
            if not (0 <= rate <= 1 and 0 < mean < 1):
                raise ValueError(
                    f"profile {self.name!r}: bad (rate, mean) {(rate, mean)} for {mode!r}"
                )

    def sample_severities(self, rng: np.random.Generator) -> dict[str, float]:
        """Severities of one clip; always draws two numbers per mode, in ``FAILURE_MODES`` order."""
        out: dict[str, float] = {}
        for mode in FAILURE_MODES:
            rate, mean = self.failures.get(mode, (0.0, 0.5))
            strikes = rng.uniform() < rate
            severity = rng.beta(mean * CONCENTRATION, (1 - mean) * CONCENTRATION)
            out[mode] = float(severity) if strikes else 0.0
        return out


_OLDER = [
    Profile(
        "grainy-v1",
        "older",
        {
            "noise": (0.9, 0.6),
            "flicker": (0.6, 0.5),
            "jitter": (0.5, 0.5),
            "wrong_shape": (0.3, 0.7),
        },
    ),
    Profile(
        "mosaic-v1",
        "older",
        {
            "blocking": (0.9, 0.6),
            "stutter": (0.6, 0.6),
            "wrong_colour": (0.3, 0.8),
            "noise": (0.3, 0.3),
        },
    ),
    Profile(
        "smear-v1",
        "older",
        {"blur": (0.9, 0.6), "wobble": (0.7, 0.6), "wrong_shape": (0.4, 0.8)},
    ),
    Profile(
        "tint-v1",
        "older",
        {"colour_shift": (0.9, 0.6), "flicker": (0.5, 0.5), "wrong_colour": (0.4, 0.9)},
    ),
    Profile(
        "drift-v1",
        "older",
        {
            "speed": (0.8, 0.6),
            "jitter": (0.6, 0.5),
            "wrong_motion": (0.5, 0.8),
            "noise": (0.4, 0.3),
        },
    ),
    Profile(
        "ghost-v1",
        "older",
        {
            "missing_object": (0.4, 0.9),
            "noise": (0.6, 0.5),
            "stutter": (0.5, 0.5),
            "blur": (0.4, 0.4),
        },
    ),
]

_MODERN = [
    Profile(
        "aurora",
        "modern",
        {"blur": (0.4, 0.25), "speed": (0.25, 0.3), "wrong_motion": (0.2, 0.6)},
        3.0,
    ),
    Profile(
        "lumen",
        "modern",
        {"flicker": (0.35, 0.3), "colour_shift": (0.3, 0.25), "wrong_colour": (0.15, 0.7)},
        3.0,
    ),
    Profile(
        "vista",
        "modern",
        {"noise": (0.35, 0.25), "jitter": (0.3, 0.3), "wrong_shape": (0.15, 0.7)},
        3.0,
    ),
    Profile(
        "nimbus",
        "modern",
        {"wobble": (0.35, 0.3), "blocking": (0.3, 0.25), "missing_object": (0.1, 0.9)},
        3.0,
    ),
    Profile(
        "kestrel",
        "modern",
        {"stutter": (0.35, 0.3), "speed": (0.3, 0.3), "wrong_motion": (0.15, 0.8)},
        3.0,
    ),
    Profile(
        "solace",
        "modern",
        {
            "noise": (0.2, 0.15),
            "blur": (0.2, 0.15),
            "jitter": (0.2, 0.2),
            "wrong_colour": (0.1, 0.6),
            "missing_object": (0.05, 0.9),
        },
        3.0,
    ),
]

PROFILES: dict[str, Profile] = {p.name: p for p in _OLDER + _MODERN}
"""All twelve profiles by name: six older, then six modern."""


def get_profile(profile: Profile | str) -> Profile:
    """A profile object from itself or its name."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown generator profile {profile!r}; expected one of {list(PROFILES)}")
    return PROFILES[profile]


def clip_severities(profile: Profile | str, seed: int) -> dict[str, float]:
    """The failure severities ``sample_clip`` uses for this profile and seed."""
    return get_profile(profile).sample_severities(np.random.default_rng([seed, 99]))


def sample_clip(
    prompt: str,
    profile: Profile | str,
    *,
    seed: int,
    size: int = 64,
    num_frames: int = 16,
    fps: float = 8.0,
) -> torch.Tensor:
    """One clip of ``prompt`` as the generator ``profile`` would make it.

    Args:
        prompt: a prompt of the world's grammar.
        profile: a ``Profile`` or its name.
        seed: fixes the layout, which failures strike, and their patterns.
        size: frame height and width (px).
        num_frames: frame count F.
        fps: the rate the clip plays at; the drawing does not depend on it.

    Returns:
        uint8 tensor (F, 3, size, size).
    """
    del fps
    scene = parse_prompt(prompt)
    severities = clip_severities(profile, seed)
    return render_with_failures(scene, severities, seed=seed, size=size, num_frames=num_frames)
