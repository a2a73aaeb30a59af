"""Video I/O: decode and encode with PyAV, frame sampling by fps or count, resizing under a pixel cap.

A decoded clip is a uint8 tensor (F, C, H, W) plus its rate (:class:`Video`).
"""

from vidalign.video.container import VideoInfo, probe_video
from vidalign.video.errors import VideoError
from vidalign.video.read import Video, decode_every_frame, read_video
from vidalign.video.resize import resize_frames
from vidalign.video.sampling import (
    RELEASE_VIDEO_MAX_PIXELS,
    RELEASE_VIDEO_MIN_PIXELS,
    num_sampled_frames,
    sample_frame_indices,
    smart_resize,
)
from vidalign.video.write import write_video

__all__ = [
    "RELEASE_VIDEO_MAX_PIXELS",
    "RELEASE_VIDEO_MIN_PIXELS",
    "Video",
    "VideoError",
    "VideoInfo",
    "decode_every_frame",
    "num_sampled_frames",
    "probe_video",
    "read_video",
    "resize_frames",
    "sample_frame_indices",
    "smart_resize",
    "write_video",
]
