"""Decode chosen frames from an open stream: in one forward pass, or by seeking.

Frame i means the i-th frame in presentation (pts) order, for constant and variable
frame rate alike. Two ways to get them:

* ``decode_sequential``: decode every frame from the start, convert only the wanted
  ones to RGB. Also gives the exact number of decodable frames.
* ``decode_by_seeking``: demux the packets once (cheap, no decoding) to learn every
  frame's pts and which frames are keyframes; then, for each run of wanted frames
  behind one keyframe, seek there and decode forward only as far as the last wanted
  frame. It keeps decoding instead of seeking when the next wanted frame's keyframe
  is already behind the decoder, and has the decoder skip non-reference frames that
  are not wanted (nothing depends on them: ``skip_frame = NONREF``, set per packet).
  Demuxers may land on an earlier keyframe than asked (mp4 seeks on decode time, so
  variable-rate files often land one GOP early); that costs time, not correctness.
  Landing after a wanted frame, a frame without pts, or a wanted frame that never
  shows up raises :class:`SeekMiss`, and the caller falls back to the sequential pass.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import av
import numpy as np


class SeekMiss(Exception):
    """Seeking did not deliver the wanted frames; decode sequentially instead."""


@dataclass
class DecodeStats:
    """What a decode cost: frames decoded, frames converted to RGB, seeks made."""

    decoded: int = 0
    converted: int = 0
    seeks: int = 0
    method: str = ""


@dataclass(frozen=True)
class FrameIndex:
    """Presentation timestamps of every frame, and which frames are keyframes.

    Attributes:
        pts: (N,) sorted pts in the stream's time base; frame i has ``pts[i]``.
        keyframes: sorted indices i whose frame is a keyframe.
    """

    pts: list[int]
    keyframes: list[int]
    position: dict[int, int] = field(repr=False, default_factory=dict)

    def __len__(self) -> int:
        return len(self.pts)

    def keyframe_before(self, i: int) -> int:
        """Index of the last keyframe at or before frame i (0 when there is none)."""
        k = int(np.searchsorted(self.keyframes, i, side="right")) - 1
        return self.keyframes[k] if k >= 0 else 0


def build_frame_index(
    container: av.container.InputContainer, stream: av.VideoStream
) -> FrameIndex | None:
    """Demux every packet of ``stream`` (no decoding) into a :class:`FrameIndex`.

    Returns None when the packets cannot index frames (a packet without pts, or two
    with the same pts). Leaves the container at its end.
    """
    entries: list[tuple[int, bool]] = []
    usable = True
    for packet in container.demux(stream):
        if packet.size == 0 or packet.is_discard:
            continue
        if packet.pts is None:
            usable = False
            break
        entries.append((int(packet.pts), bool(packet.is_keyframe)))
    if not usable:
        return None
    entries.sort()
    pts = [p for p, _ in entries]
    position = {p: i for i, p in enumerate(pts)}
    if len(position) != len(pts):
        return None
    keyframes = [i for i, (_, key) in enumerate(entries) if key]
    return FrameIndex(pts=pts, keyframes=keyframes, position=position)


def _frames_skipping(
    container: av.container.InputContainer, stream: av.VideoStream, keep: set[int]
) -> Generator[av.VideoFrame, None, None]:
    """Decode ``stream`` from where the container is, skipping non-reference frames whose
    pts is not in ``keep`` (codecs without that option decode everything)."""
    ctx = stream.codec_context
    try:
        for packet in container.demux(stream):
            ctx.skip_frame = "DEFAULT" if packet.pts is None or packet.pts in keep else "NONREF"
            yield from ctx.decode(packet)
    finally:
        ctx.skip_frame = "DEFAULT"


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")


def decode_sequential(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    wanted: Sequence[int],
) -> tuple[dict[int, np.ndarray], int, DecodeStats]:
    """Decode from the start; keep the wanted frames as RGB arrays.

    Args:
        container: a freshly opened input container.
        stream: its video stream.
        wanted: frame indices to keep (any order, duplicates allowed).

    Returns:
        ``(frames, count, stats)``: frames maps index → uint8 (H, W, 3); count is the
        number of frames decoded, the exact total.
    """
    want = set(wanted)
    stats = DecodeStats(method="sequential")
    frames: dict[int, np.ndarray] = {}
    count = 0
    for frame in container.decode(stream):
        if count in want:
            frames[count] = _rgb(frame)
            stats.converted += 1
        count += 1
        stats.decoded += 1
    return frames, count, stats


def decode_by_seeking(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    index: FrameIndex,
    wanted: Sequence[int],
) -> tuple[dict[int, np.ndarray], DecodeStats]:
    """Decode only the GOP stretches that hold wanted frames, seeking between them.

    Args:
        container: open input container.
        stream: its video stream.
        index: the stream's :class:`FrameIndex`.
        wanted: frame indices in ``[0, len(index))``.

    Returns:
        ``(frames, stats)``: frames maps index → uint8 (H, W, 3).

    Raises:
        SeekMiss: the decoder did not deliver a wanted frame where the index said.
    """
    targets = sorted(set(wanted))
    groups: list[list[int]] = []
    for i in targets:
        if groups and index.keyframe_before(i) == index.keyframe_before(groups[-1][0]):
            groups[-1].append(i)
        else:
            groups.append([i])

    stats = DecodeStats(method="seek")
    keep = {index.pts[i] for i in targets}
    frames: dict[int, np.ndarray] = {}
    decoder: Generator[av.VideoFrame, None, None] | None = None
    next_pos = -1  # index of the next frame the decoder will deliver, -1 if unknown
    for group in groups:
        first, last = group[0], group[-1]
        if decoder is None or not index.keyframe_before(first) <= next_pos <= first:
            if decoder is not None:
                decoder.close()
            try:
                container.seek(index.pts[first], stream=stream, backward=True, any_frame=False)
            except av.FFmpegError as err:
                raise SeekMiss(f"cannot seek ({err})") from err
            decoder = _frames_skipping(container, stream, keep)
            stats.seeks += 1
            landed = False
        else:
            landed = True
        group_pts = {index.pts[i]: i for i in group}
        for frame in decoder:
            stats.decoded += 1
            if frame.pts is None or frame.pts not in index.position:
                raise SeekMiss(f"decoded a frame with unknown pts {frame.pts}")
            if not landed:
                if frame.pts > index.pts[first]:
                    raise SeekMiss(f"seek for frame {first} landed after it")
                landed = True
            if frame.pts in group_pts:
                frames[group_pts[frame.pts]] = _rgb(frame)
                stats.converted += 1
            if frame.pts >= index.pts[last]:
                next_pos = index.position[frame.pts] + 1
                break
        else:
            decoder = None
        missing = [i for i in group if i not in frames]
        if missing:
            raise SeekMiss(f"frames {missing[:5]} were not delivered after seeking")
    return frames, stats
