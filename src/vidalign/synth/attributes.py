"""Read a one-object clip's colour, shape and direction back from its pixels.

Used to say whether samples are *recognisable* (right colour / shape / direction) beyond the
oracle's scalar TA score. Pixel-only, like the oracle:

* background: per-channel median of the border pixels over all frames;
* object colour: mean of the clearly-foreground pixels (≥ ``FG_DISTANCE`` from the
  background), classified as the nearest word of the colour vocabulary;
* soft mask: per-pixel coverage ``α = <p - bg, c - bg> / ‖c - bg‖²`` clipped to [0, 1],
  kept only within ``MASK_REACH`` px of a clearly-foreground pixel of the same frame: summed
  over the whole frame, faint noise adds up to the area of a small object (measured on clean
  clips with Gaussian pixel noise of std 2 / 4 / 6 out of 255: shape read right for 70 / 54 /
  49 % of 128 prompts without the limit, against 100 % noise-free);
* shape: per frame, the vocabulary shape whose anti-aliased coverage at the mask's centroid
  and equal-area radius ``sqrt(area / π)`` fits α best (squared error); majority over frames;
* direction: the ``moves *`` word whose unit vector best matches the centroid displacement
  from the first two to the last two frames (less than ``MIN_TRAVEL`` px reads as no motion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vidalign.synth.scenes import COLOURS, DIRECTIONS, SHAPES
from vidalign.synth.shapes import coverage, sdf

FG_DISTANCE = 60.0
"""0-255 RGB distance from the background above which a pixel counts as object."""
MIN_TRAVEL = 0.75
"""Centroid displacement (px) below which no direction is read."""
MIN_AREA = 2.0
"""Smallest soft-mask area (px) of a frame that is read at all."""
MASK_REACH = 2
"""Distance (px, Chebyshev) from clearly-foreground pixels within which coverage counts."""


@dataclass
class Attributes:
    """What a clip shows. Fields are None where nothing could be read."""

    colour: str | None
    shape: str | None
    direction: str | None


def read_attributes(frames: torch.Tensor | np.ndarray) -> Attributes:
    """Attributes of the (single) object of a clip, uint8 (F, C, H, W)."""
    x = np.asarray(frames, dtype=np.float64).transpose(0, 2, 3, 1)  # (F, H, W, 3)
    _, h, w, _ = x.shape
    border = np.concatenate(
        [
            x[:, 0].reshape(-1, 3),
            x[:, -1].reshape(-1, 3),
            x[:, :, 0].reshape(-1, 3),
            x[:, :, -1].reshape(-1, 3),
        ]
    )
    bg = np.median(border, axis=0)
    dist = np.linalg.norm(x - bg, axis=-1)
    fg = dist > FG_DISTANCE
    if fg.sum() < MIN_AREA:
        return Attributes(None, None, None)
    col = x[fg].mean(axis=0)
    names = list(COLOURS)
    palette = np.array([COLOURS[n] for n in names], dtype=np.float64)
    colour = names[int(np.argmin(np.linalg.norm(palette - col, axis=1)))]

    diff = col - bg
    alpha = np.clip(((x - bg) @ diff) / max(diff @ diff, 1e-6), 0.0, 1.0)  # (F, H, W)
    alpha = alpha * _near(fg, MASK_REACH)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    votes: dict[str, int] = {}
    centroids = []
    for a in alpha:
        area = a.sum()
        if area < MIN_AREA:
            centroids.append(None)
            continue
        cx, cy = (a * xx).sum() / area, (a * yy).sum() / area
        centroids.append((cx, cy))
        r = np.sqrt(area / np.pi)
        errs = {s: ((coverage(sdf(s, xx - cx, yy - cy, r)) - a) ** 2).sum() for s in SHAPES}
        best = min(errs, key=errs.get)
        votes[best] = votes.get(best, 0) + 1
    shape = max(votes, key=votes.get) if votes else None

    direction = None
    head = [c for c in centroids[:2] if c is not None]
    tail = [c for c in centroids[-2:] if c is not None]
    if head and tail:
        d = np.mean(tail, axis=0) - np.mean(head, axis=0)
        if np.linalg.norm(d) >= MIN_TRAVEL:
            direction = max(DIRECTIONS, key=lambda k: float(np.dot(DIRECTIONS[k], d)))
    return Attributes(colour, shape, direction)


def _near(mask: np.ndarray, reach: int) -> np.ndarray:
    """Per frame, the pixels within ``reach`` px (Chebyshev) of a True pixel of ``mask`` (F, H, W)."""
    m = torch.from_numpy(mask).float().unsqueeze(1)
    near = torch.nn.functional.max_pool2d(m, 2 * reach + 1, stride=1, padding=reach)
    return near.squeeze(1).numpy() > 0
