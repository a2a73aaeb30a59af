"""Finding the prompted objects in decoded frames, from pixels alone.

The background of each frame is the median colour of its two-pixel border ring (objects
keep a margin from the frame's edge). Within each object's region (``vidalign.synth.layout``)
pixels far from the background in a 3x3-smoothed frame are detected; the object's colour is
the median colour of the most distinct detected pixels over the clip, and its per-pixel
coverage is the projection of ``frame - background`` onto ``colour - background`` (linear
unmixing); values under ``MIN_COVERAGE`` are dropped and each frame's coverage is divided
by its mean over the object's interior (coverage > 0.5), which cancels brightness errors
that vary from frame to frame (block errors, clipped flicker). Smoothing, unmixing and the floor
keep areas and centroids steady on noisy, blurred or blocky clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vidalign.errors import VidalignError
from vidalign.synth.layout import Region

RING = 2
"""Width (px) of the border ring that estimates the background."""
MIN_THRESHOLD = 0.15
"""Smallest colour distance (RGB in [0, 1]) from the background that counts as an object."""
MIN_COVERAGE = 0.15
"""Coverage below this is set to 0: it is mostly noise, block errors or a blur's far tail."""


class OracleError(VidalignError):
    """Input the oracle cannot judge because it is not a video clip."""


def as_float_frames(frames: object) -> np.ndarray:
    """Check a clip and return float32 RGB frames in [0, 1], shape (F, H, W, 3).

    Accepts a uint8 (F, C, H, W) tensor or array with C = 3 (or 1), or an object with such
    a ``frames`` attribute (``vidalign.video.Video``).

    Raises:
        OracleError: naming what was expected, for anything else.
    """
    frames = getattr(frames, "frames", frames)
    if isinstance(frames, torch.Tensor):
        if frames.dtype != torch.uint8:
            raise OracleError(
                f"the oracle judges uint8 frames (F, C, H, W), got dtype {frames.dtype}"
            )
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise OracleError(
            f"the oracle judges a uint8 tensor (F, C, H, W) or a Video, got {type(frames).__name__}"
        )
    if frames.dtype != np.uint8:
        raise OracleError(f"the oracle judges uint8 frames (F, C, H, W), got dtype {frames.dtype}")
    if frames.ndim != 4 or frames.shape[1] not in (1, 3):
        raise OracleError(
            f"the oracle judges frames of shape (F, C, H, W) with C = 1 or 3, got {frames.shape}"
        )
    f, _, h, w = frames.shape
    if f < 2 or h < 8 or w < 8:
        raise OracleError(f"the oracle needs at least 2 frames of 8x8 px, got {frames.shape}")
    if frames.shape[1] == 1:
        frames = np.repeat(frames, 3, axis=1)
    return frames.transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255.0)


def box3(x: np.ndarray) -> np.ndarray:
    """3x3 mean filter over axes 1 and 2 (H, W) with edge replication; shape kept."""
    p = np.pad(x, [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (x.ndim - 3), mode="edge")
    h, w = x.shape[1:3]
    rows = p[:, :-2] + p[:, 1:-1] + p[:, 2:]
    return (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:])[:, :h, :w] / 9.0


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of (F, H, W) masks by a (2 radius + 1)^2 square."""
    out = mask.copy()
    p = np.pad(mask, [(0, 0), (radius, radius), (radius, radius)])
    h, w = mask.shape[1:]
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= p[:, dy : dy + h, dx : dx + w]
    return out


def background(frames: np.ndarray) -> np.ndarray:
    """Per-frame background colour: median of the border ring, shape (F, 3)."""
    f = frames.shape[0]
    ring = np.concatenate(
        [
            frames[:, :RING].reshape(f, -1, 3),
            frames[:, -RING:].reshape(f, -1, 3),
            frames[:, RING:-RING, :RING].reshape(f, -1, 3),
            frames[:, RING:-RING, -RING:].reshape(f, -1, 3),
        ],
        axis=1,
    )
    return np.median(ring, axis=1)


def deblock(
    frames: np.ndarray, bg: np.ndarray, block: int = 8, tolerance: float = 0.12
) -> np.ndarray:
    """Remove per-block brightness errors, estimated on each block's background pixels.

    Pixels within ``tolerance`` of the frame's background are taken as background; a block
    with at least a quarter of such pixels is shifted so that their median equals the
    background. Other blocks are left alone.

    Args:
        frames: float frames (F, H, W, 3).
        bg: per-frame background (F, 3).
    """
    f, h, w, _ = frames.shape
    hb, wb = -(-h // block), -(-w // block)
    pad = ((0, 0), (0, hb * block - h), (0, wb * block - w), (0, 0))
    padded = np.pad(frames, pad, mode="edge")
    diff = (padded - bg[:, None, None, :]).reshape(f, hb, block, wb, block, 3)
    diff = diff.transpose(0, 1, 3, 2, 4, 5).reshape(f, hb, wb, block * block, 3)
    is_bg = np.linalg.norm(diff, axis=-1) < tolerance
    enough = is_bg.sum(axis=3) >= block * block // 4  # (F, hb, wb)
    is_bg |= ~enough[..., None]  # blocks left alone: any finite median, zeroed below
    offset = np.nanmedian(np.where(is_bg[..., None], diff, np.nan), axis=3)  # (F, hb, wb, 3)
    offset[~enough] = 0.0
    full = np.repeat(np.repeat(offset, block, axis=1), block, axis=2)[:, :h, :w]
    return frames - full


@dataclass
class ObjectTrace:
    """One prompted object as seen in a clip.

    Attributes:
        colour: its colour, RGB in [0, 1], shape (3,); the background colour if absent.
        contrast: distance of ``colour`` from the background (RGB units in [0, 1]).
        coverage: per-pixel coverage in its region, shape (F, h, w), from smoothed frames.
        area: coverage total per frame (px^2), shape (F,).
        mass: total of the unfloored coverage per frame (px^2), shape (F,); unlike ``area``
            it keeps a blurred object's faint rim.
        centre: coverage centroid per frame (px, frame coordinates), shape (F, 2); NaN where absent.
        present: frames where the object is seen, shape (F,) bool.
    """

    colour: np.ndarray
    contrast: float
    coverage: np.ndarray
    area: np.ndarray
    mass: np.ndarray
    centre: np.ndarray
    present: np.ndarray


def trace_object(
    frames: np.ndarray,
    smooth: np.ndarray,
    bg: np.ndarray,
    region: Region,
    threshold: float,
    min_area: float,
) -> ObjectTrace:
    """Find the object of one region.

    Args:
        frames: float frames (F, H, W, 3).
        smooth: ``box3(frames)``.
        bg: per-frame background (F, 3).
        region: where the object lives.
        threshold: colour distance from the background that counts as object.
        min_area: smallest coverage total (px^2) of a frame that shows the object.
    """
    rows, cols = region.slices()
    raw = frames[:, rows, cols] - bg[:, None, None, :]
    diff = smooth[:, rows, cols] - bg[:, None, None, :]
    dist = np.linalg.norm(diff, axis=-1)  # (F, h, w)
    f, h, w = dist.shape
    detected = dist > threshold
    empty = ObjectTrace(
        colour=bg.mean(axis=0),
        contrast=0.0,
        coverage=np.zeros((f, h, w)),
        area=np.zeros(f),
        mass=np.zeros(f),
        centre=np.full((f, 2), np.nan),
        present=np.zeros(f, dtype=bool),
    )
    if not detected.any():
        return empty
    raw_dist = np.linalg.norm(raw, axis=-1)
    core = detected & (raw_dist >= 0.6 * np.percentile(raw_dist[detected], 90))
    delta = np.median(raw[core], axis=0)
    contrast = float(np.linalg.norm(delta))
    if contrast < threshold:
        return empty
    near = dilate(detected, 3)
    cov = np.clip(diff @ delta / contrast**2, -0.5, 1.5) * near
    mass = cov.sum(axis=(1, 2))
    cov[cov < MIN_COVERAGE] = 0.0
    core = cov > 0.5
    counts = core.sum(axis=(1, 2))
    level = np.where(core, cov, 0.0).sum(axis=(1, 2)) / np.maximum(counts, 1)
    level = np.where(counts >= 3, np.clip(level, 0.5, 1.5), 1.0)
    cov = cov / level[:, None, None]
    area = cov.sum(axis=(1, 2))
    present = area >= min_area
    ys = np.arange(h, dtype=np.float64) + 0.5 + rows.start
    xs = np.arange(w, dtype=np.float64) + 0.5 + cols.start
    safe = np.where(present, area, 1.0)
    cx = (cov.sum(axis=1) * xs).sum(axis=1) / safe
    cy = (cov.sum(axis=2) * ys).sum(axis=1) / safe
    centre = np.where(present[:, None], np.stack([cx, cy], axis=1), np.nan)
    return ObjectTrace(
        colour=bg.mean(axis=0) + delta,
        contrast=contrast,
        coverage=cov,
        area=area,
        mass=mass,
        centre=centre,
        present=present,
    )
