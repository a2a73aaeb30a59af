"""``read_video``: decode a clip's sampled frames into a uint8 (F, C, H, W) tensor."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch

from vidalign.video.container import metadata_frame_count, open_video, source_fps
from vidalign.video.decode import (
    DecodeStats,
    SeekMiss,
    build_frame_index,
    decode_by_seeking,
    decode_sequential,
)
from vidalign.video.errors import VideoError
from vidalign.video.resize import resize_frames
from vidalign.video.sampling import sample_frame_indices, sampled_fps, smart_resize

DecodeMethod = Literal["auto", "sequential", "seek"]

SEEK_FRACTION = 0.25
"""``auto`` seeks when at most this fraction of the frames is wanted, else decodes them all."""


@dataclass
class Video:
    """Frames taken from a video file, with where they came from.

    Attributes:
        frames: uint8 (F, C, H, W), RGB.
        fps: rate of the sampled frames, F / duration (the source rate when all
            frames are taken).
        source_fps: the file's average frame rate.
        source_num_frames: frames in the file.
        indices: (F,) index in the file of each sampled frame.
        path: the file, or None for frames made in memory.
    """

    frames: torch.Tensor
    fps: float
    source_fps: float
    source_num_frames: int
    indices: list[int]
    path: str | None = None


def read_video(
    path: str | Path,
    *,
    fps: float | None = None,
    num_frames: int | None = None,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    method: DecodeMethod = "auto",
    stats: DecodeStats | None = None,
) -> Video:
    """Decode the frames of ``path`` that the sampling contract picks (REFERENCE.md §2).

    Args:
        path: a video file PyAV can read.
        fps: sample at this rate; or
        num_frames: sample this many frames (rounded to even). With neither, every
            frame at the native rate.
        max_pixels: per-frame area cap; with ``min_pixels``, frames are resized by
            :func:`smart_resize` (sides multiples of 28). Both None: native size.
        min_pixels: per-frame area floor. The release uses 100352 for video
            (``RELEASE_VIDEO_MIN_PIXELS``); pass it to reproduce a released model.
        method: "auto" seeks when few frames are wanted and decodes forward
            otherwise; "sequential" and "seek" force one way (for tests and benchmarks).
        stats: if given, filled with what decoding cost.

    Returns:
        A :class:`Video` with uint8 frames (F, C, H, W).

    Raises:
        VideoError: the file is missing, empty, corrupt or frameless, has no video
            stream, or is too short for the request. The message starts with the path.
    """
    if fps is not None and num_frames is not None:
        raise VideoError(f"{path}: give fps or num_frames, not both (got {fps} and {num_frames})")
    with open_video(path) as (container, stream):
        total, _ = metadata_frame_count(container, stream, path)
        if total == 0:
            raise VideoError(f"{path}: the video stream has no frames")
        rate = source_fps(container, stream, total, path)
        sample = functools.partial(_indices, path, rate=rate, fps=fps, num_frames=num_frames)
        frames, total, indices, run = _decode(container, stream, path, total, sample, method)
    if stats is not None:
        vars(stats).update(vars(run))

    clip = torch.from_numpy(np.stack([frames[i] for i in indices])).permute(0, 3, 1, 2)
    clip = clip.contiguous()
    if max_pixels is not None or min_pixels is not None:
        h, w = smart_resize(
            clip.shape[2], clip.shape[3], min_pixels=min_pixels, max_pixels=max_pixels
        )
        clip = resize_frames(clip, h, w)
    return Video(
        frames=clip,
        fps=sampled_fps(total, rate, len(indices)),
        source_fps=rate,
        source_num_frames=total,
        indices=indices,
        path=str(path),
    )


def decode_every_frame(path: str | Path) -> int:
    """Decode every frame of ``path``, keeping none of them; returns how many there are.

    The up-front check of a data set (``vidalign data check --decode``): a file that passes
    decodes to the end, so a long run will not meet a broken one half-way.

    Raises:
        VideoError: the file is missing, empty or corrupt, has no video stream, or no frame
            of it decodes. The message starts with the path.
    """
    with open_video(path) as (container, stream):
        _, count, _ = decode_sequential(container, stream, ())
    if count == 0:
        raise VideoError(f"{path}: no frame of the video stream could be decoded")
    return count


def _indices(
    path: str | Path, total: int, *, rate: float, fps: float | None, num_frames: int | None
) -> list[int]:
    try:
        return sample_frame_indices(total, rate, fps=fps, num_frames=num_frames)
    except VideoError as err:
        raise VideoError(f"{path}: {err}") from None


def _decode(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    path: str | Path,
    total: int,
    sample: Callable[[int], list[int]],
    method: DecodeMethod,
) -> tuple[dict[int, np.ndarray], int, list[int], DecodeStats]:
    """Decode the frames ``sample(total)`` picks, correcting ``total`` if the metadata was wrong.

    The first pass uses ``container`` (freshly opened); a second pass opens the file
    again (raw streams cannot seek back to the start).

    Returns:
        ``(frames, total, indices, stats)`` with frames mapping index → uint8 (H, W, 3).
    """
    indices = sample(total)
    fresh = True
    if method == "seek" or (method == "auto" and len(set(indices)) <= SEEK_FRACTION * total):
        index = build_frame_index(container, stream)
        fresh = False
        if index is not None and len(index) > 0:
            if len(index) != total:
                total = len(index)
                indices = sample(total)
            try:
                frames, stats = decode_by_seeking(container, stream, index, indices)
                return frames, total, indices, stats
            except SeekMiss:
                pass

    if fresh:
        frames, count, stats = decode_sequential(container, stream, indices)
    else:
        with open_video(path) as (again_container, again_stream):
            frames, count, stats = decode_sequential(again_container, again_stream, indices)
    if count != total:
        # The metadata count was wrong: sample again against the decoded count.
        if count == 0:
            raise VideoError(f"{path}: no frame of the video stream could be decoded")
        total, indices = count, sample(count)
        with open_video(path) as (again_container, again_stream):
            frames, count, again = decode_sequential(again_container, again_stream, indices)
        if count != total:
            raise VideoError(f"{path}: decoding is not repeatable ({total} then {count} frames)")
        stats.decoded += again.decoded
        stats.converted += again.converted
    missing = [i for i in indices if i not in frames]
    if missing:
        raise VideoError(f"{path}: frames {missing[:5]} could not be decoded")
    return frames, total, indices, stats
