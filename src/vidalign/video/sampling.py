"""Which frames to take and what size to give them: the VideoReward sampling contract.

Both rules follow REFERENCE.md §2 ("Exact sampling semantics of the release") so that a
released reward model sees exactly the frames it was trained on:

* frame count by rate: n = total / src_fps * fps, clamped to [4, even(min(768, total))],
  rounded to even with Python's half-to-even ``round(n / 2) * 2``, capped at total;
* frame count fixed: the count rounded to even the same way;
* indices: ``round(linspace(0, total - 1, n))`` in float32 with half-to-even rounding;
* size: each side rounded to a multiple of 28, then scaled down (floor) under
  ``max_pixels`` or up (ceil) over ``min_pixels``, keeping the aspect ratio.
"""

from __future__ import annotations

import math

import torch

from vidalign.video.errors import VideoError

FRAME_FACTOR = 2
"""Frame counts are multiples of this (Qwen2-VL merges frames in temporal pairs)."""
MIN_FRAMES = 4
"""Fewest frames sampled by rate (before the cap at the clip's length)."""
MAX_FRAMES = 768
"""Most frames sampled by rate."""
SIZE_FACTOR = 28
"""Sides are multiples of this: a 14-pixel patch merged 2 x 2."""
RELEASE_VIDEO_MIN_PIXELS = 128 * 28 * 28
"""The release's default ``min_pixels`` for video (100352). Pass it to reproduce its sizes."""
RELEASE_VIDEO_MAX_PIXELS = 448 * 448
"""The release's per-frame pixel cap (200704)."""


def _round_to(x: float, factor: int) -> int:
    return round(x / factor) * factor


def _floor_to(x: float, factor: int) -> int:
    return math.floor(x / factor) * factor


def _ceil_to(x: float, factor: int) -> int:
    return math.ceil(x / factor) * factor


def _positive_number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VideoError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise VideoError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def num_sampled_frames(
    total: int, src_fps: float, *, fps: float | None = None, num_frames: int | None = None
) -> int:
    """How many frames the release samples from a clip of ``total`` frames at ``src_fps``.

    Args:
        total: frames in the clip.
        src_fps: the clip's frame rate.
        fps: sample at this rate (mutually exclusive with ``num_frames``).
        num_frames: sample this many frames, rounded to even.

    Returns:
        The frame count n, always even (the upper clamp is already an even number <= total).

    Raises:
        VideoError: both or neither of ``fps`` / ``num_frames`` given, bad values, or a
            clip too short for the request.

    Example:
        A 45-frame clip at 10 fps sampled at 2 fps: n = 45 / 10 * 2 = 9, and
        ``round(9 / 2) * 2 = round(4.5) * 2 = 8`` (half-to-even), so 8 frames.
    """
    if (fps is None) == (num_frames is None):
        raise VideoError(
            f"give exactly one of fps or num_frames to sample frames (got fps={fps!r}, "
            f"num_frames={num_frames!r})"
        )
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise VideoError(f"the frame total must be an integer >= 0, got {total!r}")
    if num_frames is not None:
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise VideoError(f"num_frames must be an integer >= 1, got {num_frames!r}")
        n = _round_to(num_frames, FRAME_FACTOR)
        if n < FRAME_FACTOR:
            raise VideoError(f"num_frames={num_frames} rounds to {n} frames; ask for at least 2")
        if n > total:
            raise VideoError(
                f"num_frames={num_frames} (rounded to {n}) needs at least {n} frames, "
                f"but the clip has {total}"
            )
        return n
    fps = _positive_number("fps", fps)
    src_fps = _positive_number("the source frame rate", src_fps)
    lo = math.ceil(MIN_FRAMES / FRAME_FACTOR) * FRAME_FACTOR
    hi = _floor_to(min(MAX_FRAMES, total), FRAME_FACTOR)
    n = total / src_fps * fps
    n = min(max(n, lo), hi)
    n = min(_round_to(n, FRAME_FACTOR), total)
    if n < 1:
        raise VideoError(f"a clip of {total} frame(s) is too short to sample by fps (needs >= 2)")
    return n


def sample_frame_indices(
    total: int, src_fps: float, *, fps: float | None = None, num_frames: int | None = None
) -> list[int]:
    """Indices of the frames to take from a clip, in presentation order.

    Args:
        total: frames in the clip.
        src_fps: the clip's frame rate.
        fps: sample at this rate.
        num_frames: sample this many frames (rounded to even). With neither ``fps``
            nor ``num_frames``, every frame is taken.

    Returns:
        ``round(linspace(0, total - 1, n))`` as Python ints (REFERENCE.md §2).

    Example:
        ``sample_frame_indices(8, 8.0, num_frames=4)``: linspace(0, 7, 4) =
        [0, 2.33, 4.67, 7] → [0, 2, 5, 7].
    """
    if fps is None and num_frames is None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise VideoError(f"the frame total must be an integer >= 0, got {total!r}")
        return list(range(total))
    n = num_sampled_frames(total, src_fps, fps=fps, num_frames=num_frames)
    # float32 on purpose: the release rounds a default-dtype torch.linspace.
    grid = torch.linspace(0, total - 1, n, dtype=torch.float32)
    return [int(i) for i in torch.round(grid).long().tolist()]


def sampled_fps(total: int, src_fps: float, n: int) -> float:
    """The rate of n frames spread over a clip of ``total`` frames at ``src_fps``: n / duration."""
    return n / total * src_fps


def smart_resize(
    height: int,
    width: int,
    *,
    factor: int = SIZE_FACTOR,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> tuple[int, int]:
    """Frame size with sides divisible by ``factor`` and area within the pixel bounds.

    Each side is first rounded (half-to-even) to a multiple of ``factor``. If the area
    is then over ``max_pixels`` both sides are scaled down by the same factor and
    floored; otherwise, if it is under ``min_pixels``, they are scaled up and ceiled.
    A bound of None is no bound. No side goes below ``factor``.

    Args:
        height: source height in pixels.
        width: source width in pixels.
        factor: sides become multiples of this.
        min_pixels: smallest wanted area, or None.
        max_pixels: largest wanted area, or None.

    Returns:
        ``(height, width)`` of the resized frame.

    Example:
        112 x 112 with ``min_pixels=100352, max_pixels=12544``: the rounded area
        12544 is not over the cap but is under the floor, so the scale is
        sqrt(100352 / 12544) = 2.83; 112 * 2.83 = 316.8, ceiled to 336: (336, 336).
    """
    if height < 1 or width < 1:
        raise VideoError(f"cannot resize a frame of {height}x{width} pixels")
    h_bar = max(factor, _round_to(height, factor))
    w_bar = max(factor, _round_to(width, factor))
    if max_pixels is not None and h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, _floor_to(height / beta, factor))
        w_bar = max(factor, _floor_to(width / beta, factor))
    elif min_pixels is not None and h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_to(height * beta, factor)
        w_bar = _ceil_to(width * beta, factor)
    return h_bar, w_bar
