"""Every kind of unreadable video gives a VideoError that names the file and the reason."""

import os
import wave

import av
import pytest

from vidalign.video import VideoError, probe_video, read_video


def _zero_frame_avi(path):
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()


def _audio_only_wav(path):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)


def _bad_file(kind, tmp_path, make_clip):
    path = tmp_path / {"audio": "sound.wav", "zero": "zero.avi"}.get(kind, f"{kind}.mp4")
    if kind == "missing":
        pass
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is a text file, not a video\n")
    elif kind == "random":
        path.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        good = make_clip("good.mp4", num_frames=8).read_bytes()
        path.write_bytes(good[: len(good) // 2])
    elif kind == "corrupt_payload":
        data = bytearray(make_clip("good.mp4", num_frames=8, size=(32, 32)).read_bytes())
        box = data.find(b"mdat") - 4  # the mdat box: 4-byte size, b"mdat", the frames
        start, end = box + 8, box + int.from_bytes(data[box : box + 4], "big")
        data[start:end] = os.urandom(end - start)
        path.write_bytes(bytes(data))
    elif kind == "audio":
        _audio_only_wav(path)
    elif kind == "zero":
        _zero_frame_avi(path)
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "not found"),
        ("directory", "not a file"),
        ("empty", "empty"),
        ("text", "not a readable video"),
        ("random", "not a readable video"),
        ("truncated", "not a readable video"),
        ("corrupt_payload", "decod"),
        ("audio", "no video stream"),
        ("zero", "no frames"),
    ],
)
def test_bad_files_raise_video_error(tmp_path, make_clip, kind, reason):
    path = _bad_file(kind, tmp_path, make_clip)
    for call in (read_video, lambda p: read_video(p, num_frames=2)):
        with pytest.raises(VideoError, match=reason) as err:
            call(path)
        assert str(path) in str(err.value)
    if kind != "corrupt_payload":  # metadata alone cannot see a corrupt payload
        with pytest.raises(VideoError, match=reason):
            probe_video(path)
