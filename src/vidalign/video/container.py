"""Open a video file with PyAV and read what its metadata says: frame count, rate, size.

Every failure becomes a :class:`VideoError` that starts with the path: a missing or empty
file, a file PyAV cannot parse (e.g. text renamed ``.mp4``), a container without a video
stream, or a stream without frames.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av

from vidalign.video.errors import VideoError, ffmpeg_reason

CountSource = Literal["metadata", "duration", "demux", "decode"]


def check_video_file(path: str | Path) -> Path:
    """The path as a ``Path``, after checking that it names a non-empty file."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: video file not found")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: video file is empty (0 bytes)")
    return path


@contextlib.contextmanager
def open_video(path: str | Path) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    """Open ``path`` and yield ``(container, first video stream)``; close it afterwards.

    Errors raised by PyAV inside the block are re-raised as :class:`VideoError`.
    """
    path = check_video_file(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise VideoError(f"{path}: not a readable video file ({ffmpeg_reason(err)})") from err
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise VideoError(f"{path}: no video stream (streams: {', '.join(kinds)})")
        yield container, container.streams.video[0]
    except av.FFmpegError as err:
        raise VideoError(f"{path}: decoding failed ({ffmpeg_reason(err)})") from err
    finally:
        container.close()


def demux_count(path: str | Path) -> int:
    """Frames in the first video stream of ``path``, counted from its packets (no decoding)."""
    with open_video(path) as (container, stream):
        return sum(1 for p in container.demux(stream) if p.size > 0 and not p.is_discard)


def duration_seconds(
    container: av.container.InputContainer, stream: av.VideoStream
) -> float | None:
    """The stream's duration in seconds from metadata, else the container's, else None."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def metadata_frame_count(
    container: av.container.InputContainer, stream: av.VideoStream, path: str | Path
) -> tuple[int, CountSource]:
    """Frame count from metadata, in order of trust: ``stream.frames``, duration x rate, packets.

    Returns:
        ``(count, source)``; ``source`` is ``"metadata"``, ``"duration"`` (an estimate)
        or ``"demux"`` (a packet count). Readers verify the count while decoding.
    """
    if stream.frames and stream.frames > 0:
        return int(stream.frames), "metadata"
    duration = duration_seconds(container, stream)
    rate = stream.average_rate or stream.guessed_rate
    if duration is not None and rate:
        estimate = round(duration * float(rate))
        if estimate > 0:
            return estimate, "duration"
    return demux_count(path), "demux"


def source_fps(
    container: av.container.InputContainer, stream: av.VideoStream, total: int, path: Path | str
) -> float:
    """The clip's frame rate: the stream's average rate, else its guessed rate, else total / duration."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0 and math.isfinite(float(rate)):
            return float(rate)
    duration = duration_seconds(container, stream)
    if duration and total > 0:
        return total / duration
    raise VideoError(f"{path}: the video stream has no frame rate and no duration")


@dataclass(frozen=True)
class VideoInfo:
    """What a video's metadata says, without decoding it.

    Attributes:
        path: the file.
        width, height: frame size in pixels.
        num_frames: frame count; exact when ``count_source`` is "metadata" or "demux".
        fps: average frame rate.
        duration: seconds, or None when the file does not say.
        codec: decoder name, e.g. "h264".
        count_source: where ``num_frames`` came from.
    """

    path: str
    width: int
    height: int
    num_frames: int
    fps: float
    duration: float | None
    codec: str
    count_source: CountSource


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's metadata (size, frame count, rate) without decoding frames.

    Raises:
        VideoError: the file is missing, empty, unreadable, has no video stream or no frames.
    """
    with open_video(path) as (container, stream):
        total, source = metadata_frame_count(container, stream, path)
        if total == 0:
            raise VideoError(f"{path}: the video stream has no frames")
        return VideoInfo(
            path=str(path),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            num_frames=total,
            fps=source_fps(container, stream, total, path),
            duration=duration_seconds(container, stream),
            codec=stream.codec_context.name,
            count_source=source,
        )
