"""Diversity of a sample set: how much a generator's samples of one prompt differ by seed.

For every prompt sampled with two or more seeds, the mean over pairs of samples of the RMS
difference of their frames after area-downsampling each frame to ``DIVERSITY_SIZE`` ×
``DIVERSITY_SIZE`` (pixel values in [0, 1]). 0 means every seed gave the same clip.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from vidalign.eval.scorer import EvalError

DIVERSITY_SIZE = 16


def _thumbnails(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (F, C, H, W) → float (F, C, s, s) in [0, 1], area-averaged."""
    x = frames.float() / 255.0
    return F.adaptive_avg_pool2d(x, (DIVERSITY_SIZE, DIVERSITY_SIZE))


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """sqrt(mean((a - b)^2)) of two thumbnail clips (F, C, s, s)."""
    return float(torch.sqrt(torch.mean((a - b) ** 2)))


def diversity(clips_by_prompt: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """Per-prompt mean pairwise RMS distance of thumbnail clips, for prompts with 2+ clips.

    Args:
        clips_by_prompt: prompt → uint8 clips (F, C, H, W) of different seeds; within a
            prompt all clips must have the same frame count.
    """
    out = {}
    for prompt, clips in clips_by_prompt.items():
        if len(clips) < 2:
            continue
        counts = {c.shape[0] for c in clips}
        if len(counts) > 1:
            raise EvalError(
                f"samples of prompt {prompt!r} have different frame counts {sorted(counts)}"
            )
        thumbs = [_thumbnails(c) for c in clips]
        dists = [rms_distance(a, b) for a, b in itertools.combinations(thumbs, 2)]
        out[prompt] = float(np.mean(dists))
    return out
