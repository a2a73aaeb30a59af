"""Tiny preference datasets of real mp4 clips for the reward tests.

Each pair differs on one dimension: VQ (clean vs. noisy), MQ (smooth vs. jittery motion)
or TA (the colour the prompt names vs. another); the other labels are ties.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidalign.data import PreferencePair, save_pairs
from vidalign.video import write_video

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 80, 230),
    "yellow": (230, 220, 40),
}


def make_clip(
    colour: str,
    *,
    noise: float = 0.0,
    jitter: float = 0.0,
    frames: int = 8,
    size: int = 56,
    seed: int = 0,
) -> torch.Tensor:
    """A square moving right on a dark background. Returns uint8 (F, 3, size, size)."""
    rng = np.random.default_rng(seed)
    out = np.full((frames, size, size, 3), 20, dtype=np.float64)
    side = size // 4
    for f in range(frames):
        x = 4 + f * (size - side - 8) / max(frames - 1, 1) + jitter * rng.normal()
        y = size / 2 - side / 2 + jitter * rng.normal()
        x0, y0 = int(np.clip(x, 0, size - side)), int(np.clip(y, 0, size - side))
        out[f, y0 : y0 + side, x0 : x0 + side] = COLOURS[colour]
    out += noise * rng.normal(size=out.shape)
    return torch.from_numpy(np.clip(out, 0, 255).astype(np.uint8)).permute(0, 3, 1, 2).contiguous()


def make_pairs(root: Path, n: int, *, seed: int = 0, name: str = "pairs.csv") -> Path:
    """Write ``n`` pairs (cycling VQ, MQ, TA) and their clips under ``root``; returns the CSV."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    pairs = []
    for i in range(n):
        colour = names[int(rng.integers(len(names)))]
        other = names[(names.index(colour) + 1 + int(rng.integers(len(names) - 1))) % len(names)]
        dim = ("VQ", "MQ", "TA")[i % 3]
        good = make_clip(colour, seed=seed * 1000 + i)
        bad = make_clip(
            other if dim == "TA" else colour,
            noise=40.0 if dim == "VQ" else 0.0,
            jitter=6.0 if dim == "MQ" else 0.0,
            seed=seed * 1000 + i + 500,
        )
        a_good = bool(rng.integers(2))
        pa, pb = root / f"s{seed}_{i}_a.mp4", root / f"s{seed}_{i}_b.mp4"
        write_video(pa, good if a_good else bad, fps=8)
        write_video(pb, bad if a_good else good, fps=8)
        labels = {d: 0 for d in ("VQ", "MQ", "TA")}
        labels[dim] = 1 if a_good else -1
        pairs.append(
            PreferencePair(
                prompt=f"a {colour} square moves right",
                path_a=str(pa),
                path_b=str(pb),
                labels=labels,
                mos_a={d: float(3 + labels[d]) for d in labels},
                mos_b={d: float(3 - labels[d]) for d in labels},
            )
        )
    return save_pairs(pairs, root / name, dims=["VQ", "MQ", "TA"], relative_to=root)
