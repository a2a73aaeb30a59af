"""Shared fixtures: small real video files made on the fly.

``make_clip(name, ...)`` writes an H.264 file into ``tmp_path`` and returns its path. By
default its frames carry their own index as a barcode (``ClipMaker.coded_frames``), so
a test can tell which source frame it got back with ``ClipMaker.index_of``. With
``timestamps`` the file has variable frame rate (pts in milliseconds).

``db_url`` gives an annotate test a new database twice: a SQLite file, then one on a
throwaway PostgreSQL server (``annotate_postgres``; skipped where none can run).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from annotate_postgres import PostgresServer, unavailable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_BITS = 8


class ClipMaker:
    """Writes small H.264 clips into one folder (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def coded_frames(num_frames: int, height: int = 64, width: int = 64) -> torch.Tensor:
        """uint8 (F, 3, H, W): the top half shows the frame index as 8 black/white bars
        (most significant bit left), the bottom half a smooth colour ramp that moves."""
        if num_frames > 2**_BITS:
            raise ValueError(f"at most {2**_BITS} coded frames")
        frames = torch.zeros(num_frames, 3, height, width, dtype=torch.uint8)
        bar = torch.arange(width) * _BITS // width  # (W,) which bit each column shows
        ramp_y = torch.linspace(0, 1, height - height // 2)[:, None]
        ramp_x = torch.linspace(0, 1, width)[None, :]
        for i in range(num_frames):
            bits = torch.tensor([(i >> (_BITS - 1 - b)) & 1 for b in range(_BITS)])
            frames[i, :, : height // 2] = (bits[bar] * 255).to(torch.uint8)
            shift = i / max(num_frames, 1)
            frames[i, 0, height // 2 :] = (255 * ((ramp_x + shift) % 1)).to(torch.uint8)
            frames[i, 1, height // 2 :] = (255 * ramp_y).expand(-1, width).to(torch.uint8)
            frames[i, 2, height // 2 :] = 128
        return frames

    @staticmethod
    def index_of(frame: torch.Tensor) -> int:
        """Read back the index that ``coded_frames`` drew into a decoded frame (C, H, W)."""
        height, width = frame.shape[-2:]
        top = frame[:, : height // 2].float().mean(dim=(0, 1))  # (W,)
        bar = torch.arange(width) * _BITS // width
        value = 0
        for b in range(_BITS):
            cols = (bar == b).nonzero().flatten()
            inner = cols[1:-1] if len(cols) > 2 else cols  # skip ringing at bar edges
            value = value * 2 + int(top[inner].mean() > 127)
        return value

    def __call__(
        self,
        name: str = "clip.mp4",
        *,
        frames: torch.Tensor | np.ndarray | None = None,
        num_frames: int = 16,
        size: tuple[int, int] = (64, 64),
        fps: float = 8.0,
        keyint: int | None = None,
        timestamps: Sequence[float] | None = None,
    ) -> Path:
        """Write a clip and return its path.

        Args:
            name: file name inside the folder (the suffix picks the container).
            frames: uint8 (F, 3, H, W); default: ``coded_frames(num_frames, *size)``.
            num_frames: frames to make when ``frames`` is None.
            size: (height, width) when ``frames`` is None.
            fps: frame rate of a constant-rate clip.
            keyint: largest keyframe interval (x264 ``g``); None: x264 default.
            timestamps: per-frame presentation times in seconds (variable rate);
                written with a millisecond time base.
        """
        from vidalign.video import write_video

        if frames is None:
            frames = self.coded_frames(num_frames, *size)
        path = self.folder / name
        if timestamps is None:
            return write_video(path, frames, fps, keyint=keyint)
        return _write_vfr(path, torch.as_tensor(frames), timestamps, keyint)


def _write_vfr(
    path: Path, frames: torch.Tensor, timestamps: Sequence[float], keyint: int | None
) -> Path:
    if len(timestamps) != frames.shape[0]:
        raise ValueError("one timestamp per frame")
    time_base = Fraction(1, 1000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(1000))
        stream.width, stream.height = frames.shape[3], frames.shape[2]
        stream.pix_fmt = "yuv420p" if frames.shape[2] % 2 == frames.shape[3] % 2 == 0 else "yuv444p"
        stream.codec_context.time_base = time_base
        stream.options = {"crf": "18"} | ({"g": str(keyint)} if keyint else {})
        for image, t in zip(frames.permute(0, 2, 3, 1).numpy(), timestamps):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def make_clip(tmp_path: Path) -> ClipMaker:
    """Factory that writes small real video files into ``tmp_path`` (see :class:`ClipMaker`)."""
    return ClipMaker(tmp_path)


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session; skips where none can run here."""
    why = unavailable()
    if why is not None:
        pytest.skip(f"PostgreSQL: {why}")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """The ``--db`` of a new empty database: a SQLite file, or one on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "ann.db")
    return request.getfixturevalue("postgres_server").database()
