"""``write_video``: encode uint8 frames as an H.264 mp4 with PyAV (libx264)."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch

from vidalign.atomic import atomic_file
from vidalign.video.errors import VideoError, ffmpeg_reason

PixFmt = Literal["auto", "yuv420p", "yuv444p"]


def _as_frames(frames: torch.Tensor | np.ndarray, path: Path) -> np.ndarray:
    """Check (F, C, H, W) uint8 with C in {1, 3}; return (F, H, W, 3) uint8, C-contiguous."""
    if isinstance(frames, torch.Tensor):
        if frames.dtype != torch.uint8:
            raise VideoError(f"{path}: frames must be uint8, got {frames.dtype}")
        frames = frames.detach().cpu().numpy()
    elif isinstance(frames, np.ndarray):
        if frames.dtype != np.uint8:
            raise VideoError(f"{path}: frames must be uint8, got {frames.dtype}")
    else:
        raise VideoError(
            f"{path}: frames must be a torch.Tensor or numpy array, got {type(frames)}"
        )
    if frames.ndim != 4 or frames.shape[1] not in (1, 3):
        raise VideoError(
            f"{path}: frames must have shape (F, C, H, W) with C = 1 or 3, got {tuple(frames.shape)}"
        )
    f, c, h, w = frames.shape
    if f == 0 or h == 0 or w == 0:
        raise VideoError(f"{path}: cannot write an empty clip of shape {tuple(frames.shape)}")
    if c == 1:
        frames = np.repeat(frames, 3, axis=1)
    return np.ascontiguousarray(frames.transpose(0, 2, 3, 1))


def write_video(
    path: str | Path,
    frames: torch.Tensor | np.ndarray,
    fps: float,
    *,
    crf: int = 18,
    pix_fmt: PixFmt = "auto",
    keyint: int | None = None,
) -> Path:
    """Encode RGB frames as an H.264 mp4 (or another container named by the suffix).

    The file appears atomically: it is written under a temporary name and renamed. The same
    frames and settings give the same bytes on every run.

    Args:
        path: output file; its suffix picks the container (".mp4" normally).
        frames: uint8 (F, C, H, W) tensor or array, C = 3 (RGB) or 1 (grey).
        fps: frame rate, > 0; stored as a fraction with denominator <= 1001.
        crf: x264 constant rate factor, 0 (lossless) to 51 (worst).
        pix_fmt: "yuv420p" is the widely playable format and needs even sides;
            "yuv444p" keeps full colour and allows odd sides but needs a player
            that handles H.264 High 4:4:4. "auto" picks yuv420p when both sides
            are even, else yuv444p, so odd sizes are kept exactly (no padding).
        keyint: largest distance between keyframes (x264 ``g``); None: x264's default (250).

    Returns:
        The written path.

    Raises:
        VideoError: frames of the wrong dtype or shape, a bad fps / crf / keyint,
            yuv420p with odd sides, or an encoder failure.
    """
    path = Path(path)
    rgb = _as_frames(frames, path)
    if (
        isinstance(fps, bool)
        or not isinstance(fps, int | float)
        or not math.isfinite(fps)
        or fps <= 0
    ):
        raise VideoError(f"{path}: fps must be a finite number > 0, got {fps!r}")
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise VideoError(f"{path}: crf must be an integer in [0, 51], got {crf!r}")
    if keyint is not None and (
        isinstance(keyint, bool) or not isinstance(keyint, int) or keyint < 1
    ):
        raise VideoError(f"{path}: keyint must be an integer >= 1, got {keyint!r}")
    _, height, width, _ = rgb.shape
    even = height % 2 == 0 and width % 2 == 0
    if pix_fmt == "auto":
        pix_fmt = "yuv420p" if even else "yuv444p"
    elif pix_fmt == "yuv420p" and not even:
        raise VideoError(f"{path}: yuv420p needs even sides, got {height}x{width}; use yuv444p")
    elif pix_fmt not in ("yuv420p", "yuv444p"):
        raise VideoError(f"{path}: pix_fmt must be auto, yuv420p or yuv444p, got {pix_fmt!r}")

    rate = Fraction(fps).limit_denominator(1001)
    # x264's macroblock-tree rate control made noisy clips come out different from run to
    # run (9 distinct files from 40 writes of one noisy 56x56 clip; 1 with it off), so it is
    # off: the same frames always give the same bytes.
    options = {"crf": str(crf), "x264-params": "mbtree=0"}
    if keyint is not None:
        options["g"] = str(keyint)
    try:
        with atomic_file(path) as tmp, av.open(str(tmp), mode="w") as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            stream.codec_context.time_base = 1 / rate
            stream.options = options
            for i, image in enumerate(rgb):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = i
                frame.time_base = stream.codec_context.time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except av.FFmpegError as err:
        raise VideoError(f"{path}: encoding failed ({ffmpeg_reason(err)})") from err
    return path
