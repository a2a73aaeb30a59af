"""Reading and writing real H.264 files: round trips, sampling on known clips, seeking, VFR."""

import numpy as np
import pytest
import torch

from reward_testdata import make_clip as reward_clip
from vidalign.video import (
    VideoError,
    probe_video,
    read_video,
    sample_frame_indices,
    write_video,
)
from vidalign.video.decode import DecodeStats


def _mae(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().mean().item()


def test_round_trip_is_close(make_clip):
    frames = make_clip.coded_frames(12, 64, 64)
    video = read_video(make_clip(frames=frames, fps=8.0))
    assert video.frames.dtype == torch.uint8 and video.frames.shape == (12, 3, 64, 64)
    assert video.indices == list(range(12))
    assert video.fps == video.source_fps == 8.0 and video.source_num_frames == 12
    assert _mae(video.frames, frames) < 3.0


def test_odd_size_round_trip_keeps_size(make_clip):
    frames = make_clip.coded_frames(6, 33, 47)
    video = read_video(make_clip("odd.mp4", frames=frames))
    assert video.frames.shape == (6, 3, 33, 47)
    assert _mae(video.frames, frames) < 3.0
    assert [make_clip.index_of(f) for f in video.frames] == list(range(6))


def test_write_accepts_numpy_and_grey(tmp_path):
    grey = np.full((4, 1, 16, 16), 100, dtype=np.uint8)
    video = read_video(write_video(tmp_path / "grey.mp4", grey, 4.0))
    assert video.frames.shape == (4, 3, 16, 16)
    assert abs(video.frames.float().mean().item() - 100) < 2


def test_same_frames_give_the_same_bytes(tmp_path):
    # Noisy frames are where x264's macroblock-tree rate control made files differ from run
    # to run (up to 9 distinct files from 40 writes of this clip).
    noisy = reward_clip("red", noise=40.0, seed=3)
    files = {write_video(tmp_path / f"{i}.mp4", noisy, 8.0).read_bytes() for i in range(12)}
    assert len(files) == 1


@pytest.mark.parametrize(
    ("frames", "fps", "kwargs", "match"),
    [
        (torch.zeros(4, 3, 16, 16), 8.0, {}, "must be uint8"),
        (torch.zeros(4, 16, 16, 3, dtype=torch.uint8), 8.0, {}, r"shape \(F, C, H, W\)"),
        (torch.zeros(3, 16, 16, dtype=torch.uint8), 8.0, {}, r"shape \(F, C, H, W\)"),
        (torch.zeros(0, 3, 16, 16, dtype=torch.uint8), 8.0, {}, "empty clip"),
        ([[0]], 8.0, {}, "torch.Tensor or numpy array"),
        (torch.zeros(4, 3, 16, 16, dtype=torch.uint8), 0.0, {}, "fps must be"),
        (torch.zeros(4, 3, 16, 16, dtype=torch.uint8), 8.0, {"crf": 60}, "crf"),
        (torch.zeros(4, 3, 15, 16, dtype=torch.uint8), 8.0, {"pix_fmt": "yuv420p"}, "even sides"),
    ],
)
def test_write_rejects_bad_input(tmp_path, frames, fps, kwargs, match):
    path = tmp_path / "bad.mp4"
    with pytest.raises(VideoError, match=match) as err:
        write_video(path, frames, fps, **kwargs)
    assert str(path) in str(err.value)
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize(
    ("total", "kwargs", "expected"),
    [
        (16, {"num_frames": 4}, [0, 5, 10, 15]),  # linspace(0, 15, 4) = 0, 5, 10, 15
        (16, {"num_frames": 8}, [0, 2, 4, 6, 9, 11, 13, 15]),
        (20, {"fps": 2.0}, [0, 6, 13, 19]),  # 20 / 8 * 2 = 5 -> round(2.5) * 2 = 4
        (36, {"fps": 2.0}, [0, 5, 10, 15, 20, 25, 30, 35]),  # 9 -> round(4.5) * 2 = 8, step 5
    ],
)
def test_sampling_picks_the_right_frames(make_clip, total, kwargs, expected):
    video = read_video(make_clip(num_frames=total, fps=8.0), **kwargs)
    assert video.indices == expected
    assert [make_clip.index_of(f) for f in video.frames] == expected
    assert video.source_num_frames == total
    assert video.fps == pytest.approx(len(expected) / (total / 8.0))


def test_fps_and_num_frames_are_exclusive(make_clip):
    path = make_clip()
    with pytest.raises(VideoError, match="not both") as err:
        read_video(path, fps=2.0, num_frames=4)
    assert str(path) in str(err.value)


def test_clip_too_short_for_count_names_the_file(make_clip):
    path = make_clip(num_frames=6)
    with pytest.raises(VideoError, match="needs at least 8 frames") as err:
        read_video(path, num_frames=8)
    assert str(path) in str(err.value)


def test_seeking_decodes_fewer_frames_and_matches_sequential(make_clip):
    # 64 frames, a keyframe every 8: four wanted frames need four short GOP stretches.
    path = make_clip(num_frames=64, keyint=8)
    seek_stats, seq_stats = DecodeStats(), DecodeStats()
    by_seek = read_video(path, num_frames=4, method="seek", stats=seek_stats)
    by_pass = read_video(path, num_frames=4, method="sequential", stats=seq_stats)
    assert by_seek.indices == by_pass.indices == [0, 21, 42, 63]
    assert torch.equal(by_seek.frames, by_pass.frames)
    assert [make_clip.index_of(f) for f in by_seek.frames] == [0, 21, 42, 63]
    assert seq_stats.decoded == 64 and seq_stats.converted == 4
    assert seek_stats.seeks >= 3 and seek_stats.decoded < 64 // 2
    auto_stats = DecodeStats()
    read_video(path, num_frames=4, stats=auto_stats)
    assert auto_stats.method == "seek"


def test_dense_sampling_decodes_sequentially(make_clip):
    stats = DecodeStats()
    read_video(make_clip(num_frames=16, keyint=4), num_frames=8, stats=stats)
    assert stats.method == "sequential" and stats.seeks == 0


def test_variable_frame_rate(make_clip):
    # 40 frames whose gaps grow from 20 ms to 215 ms; frame i is the i-th in time order.
    times = np.cumsum([0.0] + [0.02 + 0.005 * i for i in range(39)])
    path = make_clip("vfr.mp4", num_frames=40, timestamps=times.tolist(), keyint=5)
    info = probe_video(path)
    assert info.num_frames == 40
    # The average rate comes from the container (frames / its duration): 40 frames over
    # about 4.5 s, far from the fastest (50 fps) and slowest (4.7 fps) instantaneous rates.
    assert info.fps == pytest.approx(40 / times[-1], rel=0.15)
    every = read_video(path)
    assert [make_clip.index_of(f) for f in every.frames] == list(range(40))
    for method in ("seek", "sequential"):
        video = read_video(path, num_frames=6, method=method)
        want = sample_frame_indices(40, video.source_fps, num_frames=6)
        assert video.indices == want
        assert [make_clip.index_of(f) for f in video.frames] == want


def test_container_without_frame_count_uses_duration(make_clip):
    path = make_clip("clip.mkv", num_frames=24, keyint=6)
    assert probe_video(path).count_source == "duration"
    video = read_video(path, num_frames=4)
    assert video.source_num_frames == 24
    assert [make_clip.index_of(f) for f in video.frames] == [0, 8, 15, 23]


def test_raw_stream_is_counted_from_packets(make_clip):
    # A raw H.264 stream has no frame count, duration or timestamps, and cannot seek.
    path = make_clip("clip.h264", num_frames=20)
    info = probe_video(path)
    assert (info.count_source, info.num_frames) == ("demux", 20)
    video = read_video(path, num_frames=4, method="seek")
    assert [make_clip.index_of(f) for f in video.frames] == [0, 6, 13, 19]


def test_resize_follows_the_pixel_bounds(make_clip):
    path = make_clip(num_frames=4, size=(112, 112))
    up = read_video(path, min_pixels=100352, max_pixels=12544)
    assert up.frames.shape == (4, 3, 336, 336) and up.frames.dtype == torch.uint8
    # 64x96 rounds to 56x84 = 4704 > 2352; beta = sqrt(6144 / 2352) = 1.616;
    # 64 / 1.616 = 39.6 -> 28 and 96 / 1.616 = 59.4 -> 56
    down = read_video(make_clip("wide.mp4", num_frames=4, size=(64, 96)), max_pixels=2352)
    assert down.frames.shape == (4, 3, 28, 56)
    native = read_video(path)
    assert native.frames.shape == (4, 3, 112, 112)
    # Upscaling keeps the picture: shrinking it back is close to the original.
    back = torch.nn.functional.interpolate(up.frames.float(), size=(112, 112), mode="area")
    assert _mae(back, native.frames) < 4.0


@pytest.mark.parametrize("claimed", [12, 30])
def test_wrong_metadata_count_is_corrected_by_decoding(make_clip, monkeypatch, claimed):
    import vidalign.video.read as read_mod

    monkeypatch.setattr(read_mod, "metadata_frame_count", lambda *a: (claimed, "metadata"))
    path = make_clip(num_frames=20)
    video = read_video(path, num_frames=4, method="sequential")
    assert video.source_num_frames == 20
    assert video.indices == [0, 6, 13, 19]
    assert [make_clip.index_of(f) for f in video.frames] == [0, 6, 13, 19]


def test_seek_miss_is_detected(make_clip):
    from vidalign.video.container import open_video
    from vidalign.video.decode import FrameIndex, SeekMiss, build_frame_index, decode_by_seeking

    path = make_clip(num_frames=24, keyint=4)
    with open_video(path) as (container, stream):
        index = build_frame_index(container, stream)
        assert index is not None and len(index) == 24 and index.keyframes[:3] == [0, 4, 8]
        shifted = [p + 1 for p in index.pts]  # timestamps no decoded frame carries
        wrong = FrameIndex(shifted, index.keyframes, {p: i for i, p in enumerate(shifted)})
        with pytest.raises(SeekMiss):
            decode_by_seeking(container, stream, wrong, [10])
