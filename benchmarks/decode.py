"""Time sampling 2 fps from a 10 s clip: ``read_video`` (seeking) against decoding every frame.

Makes a 10 s, 256x256, 24 fps H.264 clip with moving texture in a temporary folder, then
times, in the same run:

* ``read_video(path, fps=2)`` (auto: seeks when few frames are wanted);
* baseline "decode all + RGB all": decode every frame, convert every frame to RGB, pick
  the 20 wanted ones (what a simple reader does);
* baseline "decode all + RGB picked": decode every frame, convert only the wanted ones.

It does this for a clip with a keyframe every second (keyint 24) and for one with x264's
default keyframe interval (250, so a 240-frame clip has a single keyframe and seeking
cannot skip decoding). Prints the best of ``--repeats`` interleaved times, the ratios, and the machine.

Run: ``.venv/bin/python benchmarks/decode.py [--repeats 9]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch

from vidalign.video import read_video, sample_frame_indices, write_video
from vidalign.video.decode import DecodeStats


def make_clip(path: Path, *, keyint: int | None, seconds: int = 10, fps: int = 24) -> Path:
    """A clip of drifting sine texture plus noise, (F, 3, 256, 256)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    frames = np.empty((seconds * fps, 3, 256, 256), dtype=np.uint8)
    for t in range(seconds * fps):
        base = 128 + 60 * np.sin((xx + 3 * t) / 17) + 50 * np.cos((yy - 2 * t) / 11)
        for c in range(3):
            noise = rng.integers(-15, 15, size=(256, 256))
            frames[t, c] = np.clip(base + 20 * c + noise, 0, 255).astype(np.uint8)
    return write_video(path, frames, fps, keyint=keyint)


def decode_all_pick(path: Path, indices: list[int], *, convert_all: bool) -> torch.Tensor:
    """Baseline: decode every frame in order, keep the wanted ones. (F, 3, H, W) uint8."""
    wanted = set(indices)
    kept: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            if convert_all:
                rgb = frame.to_ndarray(format="rgb24")
                if i in wanted:
                    kept[i] = rgb
            elif i in wanted:
                kept[i] = frame.to_ndarray(format="rgb24")
    return torch.from_numpy(np.stack([kept[i] for i in indices])).permute(0, 3, 1, 2)


def best_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each function; the functions take turns, so load spikes hit all."""
    for fn in fns.values():
        fn()  # warm up (file cache, codec init)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"machine: {platform.platform()} ({platform.machine()}), {os.cpu_count()} CPUs, "
        f"python {platform.python_version()}, PyAV {av.__version__}, torch {torch.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for keyint in (24, None):
            path = make_clip(Path(tmp) / f"clip-{keyint}.mp4", keyint=keyint)
            stats = DecodeStats()
            video = read_video(path, fps=2.0, stats=stats)
            want = sample_frame_indices(240, 24.0, fps=2.0)
            assert video.indices == want
            base = decode_all_pick(path, want, convert_all=True)
            assert torch.equal(video.frames, base), "seeking must give the same frames"

            t = best_times(
                {
                    "read": lambda p=path: read_video(p, fps=2.0),
                    "all": lambda p=path, w=want: decode_all_pick(p, w, convert_all=True),
                    "pick": lambda p=path, w=want: decode_all_pick(p, w, convert_all=False),
                },
                args.repeats,
            )
            t_read, t_all, t_pick = t["read"], t["all"], t["pick"]
            gop = f"keyint {keyint}" if keyint else "x264 default keyint (250)"
            print(f"\n10 s 256x256 24 fps clip, {gop}: 2 fps = {len(want)} of 240 frames")
            print(
                f"  read_video ({stats.method}): {t_read * 1e3:7.1f} ms  "
                f"decoded {stats.decoded}, seeks {stats.seeks}"
            )
            print(f"  decode all + RGB all:    {t_all * 1e3:7.1f} ms  ratio {t_all / t_read:5.2f}x")
            print(
                f"  decode all + RGB picked: {t_pick * 1e3:7.1f} ms  ratio {t_pick / t_read:5.2f}x"
            )


if __name__ == "__main__":
    main()
