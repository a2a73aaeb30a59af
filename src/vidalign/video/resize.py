"""Resize decoded frames: bicubic with antialias on float frames, back to uint8."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_CHUNK = 32
"""Frames resized at once, to bound the float copy's memory."""


def resize_frames(frames: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a clip to ``height x width`` (REFERENCE.md §2, stage 1).

    Args:
        frames: uint8 (F, C, H, W).
        height: output height.
        width: output width.

    Returns:
        uint8 (F, C, height, width): the bicubic, antialiased float result rounded
        and clamped to [0, 255], stored channels-last (as frame images are read and
        written). The input itself when the size already matches.
    """
    if frames.shape[-2:] == (height, width):
        return frames
    out = torch.empty(
        (*frames.shape[:2], height, width), dtype=torch.uint8, memory_format=torch.channels_last
    )
    for start in range(0, frames.shape[0], _CHUNK):
        chunk = frames[start : start + _CHUNK].float()
        resized = F.interpolate(
            chunk, size=(height, width), mode="bicubic", align_corners=False, antialias=True
        )
        out[start : start + _CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out
